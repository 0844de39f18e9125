"""Readers for the datasets' official on-disk formats, with errors that name the bad file.

CIFAR-10: the python batches (`cifar-10-batches-py/data_batch_1..5`, `test_batch`), pickled
dicts whose `data` is uint8 (N, 3072) in R, G, B planes and `labels` a list of N ints.
MNIST: IDX files in `MNIST/raw/`, gzip-compressed (`.gz`) or not.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
MNIST_FOLDER = "MNIST/raw"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class RawDataError(Exception):
    """A raw dataset file is missing, truncated or not in the expected format."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


# Images per official CIFAR-10 training batch: data_batch_b's row r is training image (b - 1) * 10000 + r.
CIFAR10_BATCH_SIZE = 10_000


@dataclass
class RawSplit:
    """All images of one split as a copy holds them: uint8 (N, C, H, W), int64 labels (N,), each row's
    official index (its position in the official split), the files read and how many images each held.

    A copy holds each official file's leading rows: the whole file, or a prefix of it as in
    ../shared/data. (A copy with other rows is caught afterwards: its images' hashes differ.)"""

    images: np.ndarray
    labels: np.ndarray
    official: np.ndarray
    sources: dict[str, str]  # file path -> SHA-256
    counts: dict[str, int]  # file name -> images it holds

    def extent(self) -> str:
        return ", ".join(f"{name}: {count:,} images" for name, count in self.counts.items())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles the CIFAR batches' dicts, lists and numpy arrays, and refuses any other class.

    A plain pickle.load would run whatever code a tampered batch file names.
    """

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def read_cifar10(root: Path, split: str) -> RawSplit:
    """Read a CIFAR-10 split from `root/cifar-10-batches-py`."""
    images, labels, official, sources, counts = [], [], [], {}, {}
    for number, name in enumerate(CIFAR10_FILES[split]):
        path = root / CIFAR10_FOLDER / name
        raw = _read_bytes(path)
        sources[str(path)] = _sha256(raw)
        try:
            batch = _ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
        except Exception as error:  # pickle signals truncation with many exception types
            raise RawDataError(path, f"not a readable CIFAR-10 batch, corrupt or truncated ({error})") from None
        if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
            raise RawDataError(path, "not a CIFAR-10 batch: expected a dict with 'data' and 'labels'")
        data = np.asarray(batch["data"])
        batch_labels = np.asarray(batch["labels"], dtype=np.int64)
        if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise RawDataError(path, f"'data' should be uint8 of shape (N, 3072), got {data.dtype} {data.shape}")
        if len(batch_labels) != len(data):
            raise RawDataError(path, f"{len(data)} images but {len(batch_labels)} labels")
        _check_labels(path, batch_labels)
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(batch_labels)
        official.append(number * CIFAR10_BATCH_SIZE + np.arange(len(data)))
        counts[name] = len(data)
    return RawSplit(np.concatenate(images), np.concatenate(labels), np.concatenate(official), sources, counts)


def read_mnist(root: Path, split: str) -> RawSplit:
    """Read an MNIST split from `root/MNIST/raw`, each file gzipped or not."""
    image_name, label_name = MNIST_FILES[split]
    image_path, image_bytes, image_sha = _read_idx_file(root / MNIST_FOLDER / image_name)
    label_path, label_bytes, label_sha = _read_idx_file(root / MNIST_FOLDER / label_name)
    images = _parse_idx(image_path, image_bytes, expected_dims=3)
    labels = _parse_idx(label_path, label_bytes, expected_dims=1).astype(np.int64)
    if images.shape[1:] != (28, 28):
        raise RawDataError(image_path, f"expected 28x28 images, got {images.shape[1:]}")
    if len(images) != len(labels):
        raise RawDataError(label_path, f"{len(labels)} labels for {len(images)} images in {image_path.name}")
    _check_labels(label_path, labels)
    sources = {str(image_path): image_sha, str(label_path): label_sha}
    return RawSplit(images[:, None], labels, np.arange(len(labels)), sources, {image_path.name: len(labels)})


def read_split(dataset: str, root: Path, split: str) -> RawSplit:
    """Read `split` ("train" or "test") of `dataset` ("cifar10" or "mnist") from the copy in `root`."""
    return {"cifar10": read_cifar10, "mnist": read_mnist}[dataset](root, split)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RawDataError(path, "file not found") from None
    except OSError as error:
        raise RawDataError(path, f"cannot be read ({error.strerror})") from None


def _read_idx_file(path: Path) -> tuple[Path, bytes, str]:
    """Return the path actually read (`path` or `path.gz`), its uncompressed bytes, the file's SHA-256."""
    gz = path.with_name(path.name + ".gz")
    if not path.exists() and gz.exists():
        compressed = _read_bytes(gz)
        try:
            return gz, gzip.decompress(compressed), _sha256(compressed)
        except (OSError, EOFError, zlib.error) as error:
            raise RawDataError(gz, f"corrupt or truncated gzip file ({error})") from None
    if not path.exists():
        raise RawDataError(path, f"file not found (nor {gz.name})")
    data = _read_bytes(path)
    return path, data, _sha256(data)


def _parse_idx(path: Path, data: bytes, expected_dims: int) -> np.ndarray:
    """Parse an IDX file of unsigned bytes: magic 0x0000 0x08 ndim, then ndim big-endian sizes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise RawDataError(path, "not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    if ndim != expected_dims:
        raise RawDataError(path, f"expected {expected_dims} dimensions, the header says {ndim}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RawDataError(path, "truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise RawDataError(path, f"the header promises {shape} ({expected} bytes), the file has {len(data)}: truncated?")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _check_labels(path: Path, labels: np.ndarray) -> None:
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise RawDataError(path, f"labels should lie in 0..9, found {labels.min()}..{labels.max()}")
