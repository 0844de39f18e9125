"""A whole dataset as training and test batches, for training a network to submit (on a GPU: Colab's will do).

    from data_scripts.training_data import loaders
    train, test = loaders("cifar10", device="cuda")

The official files are read from `raw_dir`, else $CNNLAB_RAW_DATA, else data_scripts/downloads/ (where
`python -m data_scripts.prepare` keeps what it downloads), downloading them there first if they are missing.
The batches live on `device` and are normalised exactly as the grader normalises the test images it runs a
submitted checkpoint on; CIFAR-10's training batches are augmented (random crops and flips), MNIST's are not.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from autograder.worker.tensor_batches import TensorBatches
from autograder.worker.training_run import NORMALISATION

from .prepare import DEFAULT_DOWNLOADS, RAW_VARIABLE, download
from .raw_formats import RawDataError, read_split

AUGMENTED = {"cifar10": True, "mnist": False}


def loaders(dataset: str, batch_size: int = 128, device: torch.device | str = "cpu", raw_dir: Path | None = None,
            seed: int = 0) -> tuple[TensorBatches, TensorBatches]:
    """(training batches, test batches) of `dataset` ("cifar10" or "mnist"), every image of each split."""
    folder = Path(raw_dir or os.environ.get(RAW_VARIABLE) or DEFAULT_DOWNLOADS)
    try:
        train, test = (read_split(dataset, folder, split) for split in ("train", "test"))
    except RawDataError:
        if raw_dir is not None:  # a folder the caller chose: say what is wrong with it
            raise
        download(dataset, folder)
        train, test = (read_split(dataset, folder, split) for split in ("train", "test"))
    mean, std = NORMALISATION[train.images.shape[1]]
    augment = AUGMENTED[dataset]
    return (TensorBatches(torch.tensor(train.images), torch.tensor(train.labels), batch_size, mean=mean,
                          std=std, crop_padding=4 if augment else 0, flip=augment, device=device, seed=seed),
            TensorBatches(torch.tensor(test.images), torch.tensor(test.labels), 1000, mean=mean, std=std,
                          shuffle=False, device=device))
