"""Class-stratified grading subsets: selection, storage as uint8 arrays plus a manifest, loading.

A prepared dataset is a folder `<root>/<dataset>/` holding `train_images.npy` (uint8,
(N, C, H, W)), `train_labels.npy` (uint8, (N,)), the same for `test`, and `manifest.json`.
Images are stored round-robin over the classes, so every prefix of a subset is itself
close to stratified: a small grading budget can take the first n images.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # imported where a subset is loaded: the class-grading driver reads paths here and never trains
    import torch

DATASETS = ("cifar10", "mnist")
SPLITS = ("train", "test")
DEFAULT_ROOT = Path(__file__).resolve().parent / "prepared"
ROOT_VARIABLE = "CNNLAB_DATA_DIR"
PREPARE_COMMAND = "python -m data_scripts.prepare"


class SubsetMissingError(FileNotFoundError):
    """The grading subsets have not been prepared; the message says how to prepare them."""


@dataclass
class Selection:
    """Indices into a raw split, and how many of each class were asked for and found."""

    indices: np.ndarray
    requested: int
    per_class: list[int]
    shortfall: list[str]


def stratified_indices(labels: np.ndarray, size: int, seed: int, num_classes: int = 10) -> Selection:
    """Choose `size` indices with (as near as possible) equal counts per class.

    Each class's quota is `size // num_classes`, the remainder going to the lowest classes.
    A class with fewer images than its quota gives all it has; its shortfall is not made up
    by the others, so the subset stays balanced. Same labels and seed, same indices.
    """
    rng = np.random.Generator(np.random.PCG64(seed))
    quotas = [size // num_classes + (c < size % num_classes) for c in range(num_classes)]
    chosen, shortfall = [], []
    for c, quota in enumerate(quotas):
        members = np.flatnonzero(labels == c)
        taken = rng.permutation(members)[:quota]
        if len(taken) < quota:
            shortfall.append(f"class {c}: {len(taken)} of {quota}")
        chosen.append(taken)
    # Interleave the classes (c0, c1, ..., c9, c0, ...) so that prefixes stay stratified.
    rank = np.concatenate([np.arange(len(t)) for t in chosen])
    klass = np.concatenate([np.full(len(t), c) for c, t in enumerate(chosen)])
    order = np.lexsort((klass, rank))
    indices = np.concatenate(chosen)[order]
    return Selection(indices, size, [len(t) for t in chosen], shortfall)


def dataset_root(root: Path | None = None) -> Path:
    """The folder holding the prepared datasets: `root`, else $CNNLAB_DATA_DIR, else the default."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(ROOT_VARIABLE, DEFAULT_ROOT))


def save_dataset(folder: Path, arrays: dict[str, np.ndarray], manifest: dict) -> None:
    """Write one prepared dataset all at once: into a temporary folder, then renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the data from a grader running as another user
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if folder.exists():
            old = folder.with_name(f".{folder.name}-old")
            shutil.rmtree(old, ignore_errors=True)
            folder.rename(old)
            staging.rename(folder)
            shutil.rmtree(old)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_subset(dataset: str, split: str, root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 (N, C, H, W), labels int64 (N,)) of a prepared split."""
    import torch

    if dataset not in DATASETS or split not in SPLITS:
        raise ValueError(f"unknown subset {dataset}/{split}: datasets {DATASETS}, splits {SPLITS}")
    folder = dataset_root(root) / dataset
    if not (folder / "manifest.json").is_file():
        raise SubsetMissingError(
            f"The {dataset} grading subset is not prepared in {folder}. Run `{PREPARE_COMMAND}` from the "
            f"repository root (add `--raw-dir DIR` to read already-downloaded files without a network)."
        )
    images, labels = stored_arrays(folder, split, (folder / "manifest.json").stat().st_mtime_ns)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels).long()


@functools.lru_cache(maxsize=8)
def stored_arrays(folder: Path, split: str, manifest_stamp: int) -> tuple[np.ndarray, np.ndarray]:
    """A split's arrays as stored, read once per process (again when its manifest is rewritten). numpy parses an
    array's header with `ast`, which CPython 3.11 cannot do in two threads at once (SystemError: AST constructor
    recursion depth mismatch): the judge reads every subset in its main thread before its training checks run
    side by side, and their threads then find them here."""
    return (np.load(folder / f"{split}_images.npy", allow_pickle=False),
            np.load(folder / f"{split}_labels.npy", allow_pickle=False))


def load_manifest(dataset: str, root: Path | None = None) -> dict:
    """The manifest of a prepared dataset (sizes, per-class counts, seed, sources)."""
    return json.loads((dataset_root(root) / dataset / "manifest.json").read_text())


def prepared_sha256(dataset: str, root: Path | None = None) -> str | None:
    """The grading-images hash the prepared subsets of `dataset` were made from ("" from before such
    hashes; None: not prepared)."""
    try:
        return load_manifest(dataset, root).get("grading_images_sha256", "")
    except FileNotFoundError:
        return None
