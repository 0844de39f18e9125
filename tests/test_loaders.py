"""The loaders the grader hands student loops count samples the way a DataLoader does (ASSIGNMENT_SPEC.md)."""
from __future__ import annotations

import pytest
import torch

from autograder.worker.loop_fixtures import Loader
from autograder.worker.tensor_batches import TensorBatches


def ragged_batches(sizes: tuple[int, ...]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(n, 1, 4, 4), torch.randint(0, 10, (n,))) for n in sizes]


def test_the_checks_loader_has_a_length_a_batch_size_and_a_dataset() -> None:
    loader = Loader(ragged_batches((4, 4, 2)))
    assert len(loader) == 3 and loader.batch_size == 4 and len(loader.dataset) == 10
    assert [len(targets) for _, targets in loader] == [4, 4, 2]
    assert [len(targets) for _, targets in loader] == [4, 4, 2], "a second pass must see the same batches"


def test_anything_else_asked_of_the_loader_names_what_the_spec_promises() -> None:
    with pytest.raises(AttributeError, match="'sampler'.*ASSIGNMENT_SPEC.md promises"):
        Loader(ragged_batches((2,))).sampler


def test_the_training_batches_count_like_a_dataloader() -> None:
    images, labels = torch.zeros(10, 1, 4, 4, dtype=torch.uint8), torch.zeros(10, dtype=torch.long)
    batches = TensorBatches(images, labels, 4, mean=[0.5], std=[0.25])
    assert len(batches) == 3 and batches.batch_size == 4 and len(batches.dataset) == 10
