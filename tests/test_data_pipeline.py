"""Data preparation on the real files in ../shared/data, and on corrupted copies of them."""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from data_scripts.prepare import main as prepare_main
from data_scripts.raw_formats import RawDataError, read_cifar10, read_mnist
from data_scripts.subsets import SubsetMissingError, load_manifest, load_subset, stratified_indices

SMALL = ["--cifar10-train", "1000", "--cifar10-test", "200", "--mnist-train", "500", "--mnist-test", "300"]


def prepare(raw_dir: Path, out: Path, *extra: str) -> int:
    return prepare_main(["--raw-dir", str(raw_dir), "--out", str(out), *SMALL, *extra])


@pytest.fixture(scope="module")
def prepared(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    assert prepare(raw_dir, out) == 0
    return out


def test_sizes_stratification_and_layout(prepared: Path) -> None:
    for dataset, train, test, shape in [("cifar10", 1000, 200, (3, 32, 32)), ("mnist", 500, 300, (1, 28, 28))]:
        for split, size in (("train", train), ("test", test)):
            images, labels = load_subset(dataset, split, prepared)
            assert images.shape == (size, *shape) and str(images.dtype) == "torch.uint8"
            assert np.bincount(labels.numpy(), minlength=10).tolist() == [size // 10] * 10
            # Classes are interleaved, so any prefix stays stratified.
            assert sorted(labels[:10].tolist()) == list(range(10))
        manifest = load_manifest(dataset, prepared)
        assert manifest["splits"]["train"]["per_class"] == [train // 10] * 10
        assert manifest["seed"] == 0


def test_subset_images_are_the_raw_images_with_their_labels(prepared: Path, raw_dir: Path) -> None:
    raw = read_cifar10(raw_dir, "test")
    images, labels = load_subset("cifar10", "test", prepared)
    for image, label in zip(images[:20].numpy(), labels[:20].tolist()):
        matches = np.flatnonzero((raw.images == image).all(axis=(1, 2, 3)))
        assert len(matches) >= 1 and raw.labels[matches[0]] == label


def test_manifest_records_sources_and_their_sha256(prepared: Path, raw_dir: Path) -> None:
    sources = load_manifest("mnist", prepared)["sources"]
    assert {Path(s["file"]).name for s in sources} == {
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    for source in sources:
        assert hashlib.sha256(Path(source["file"]).read_bytes()).hexdigest() == source["sha256"]


def test_same_seed_gives_byte_identical_subsets(raw_dir: Path, prepared: Path, tmp_path: Path) -> None:
    assert prepare(raw_dir, tmp_path / "again", "--datasets", "cifar10") == 0
    assert prepare(raw_dir, tmp_path / "other", "--datasets", "cifar10", "--seed", "1") == 0
    for name in ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"):
        first = (prepared / "cifar10" / name).read_bytes()
        assert (tmp_path / "again" / "cifar10" / name).read_bytes() == first, name
    assert (tmp_path / "other" / "cifar10" / "train_images.npy").read_bytes() != (
        prepared / "cifar10" / "train_images.npy").read_bytes()


def test_asking_for_more_than_exists_uses_what_exists_and_says_so(
        raw_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert prepare(raw_dir, tmp_path, "--datasets", "mnist", "--mnist-train", "100000") == 0
    assert "fewer images exist than the 100,000 asked for" in capsys.readouterr().out
    manifest = load_manifest("mnist", tmp_path)["splits"]["train"]
    assert manifest["size"] == manifest["available"] == len(read_mnist(raw_dir, "train").labels)


def test_stratified_indices_caps_short_classes_without_rebalancing() -> None:
    labels = np.array([0] * 3 + [1] * 50)
    selection = stratified_indices(labels, 20, seed=0, num_classes=2)
    assert selection.per_class == [3, 10] and selection.shortfall == ["class 0: 3 of 10"]
    assert len(set(selection.indices.tolist())) == 13


def copy_raw(raw_dir: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "raw"
    shutil.copytree(raw_dir, copy)
    for path in copy.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return copy


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("damaged", [
    "cifar-10-batches-py/data_batch_3", "MNIST/raw/train-images-idx3-ubyte.gz", "MNIST/raw/t10k-labels-idx1-ubyte.gz",
])
def test_truncated_file_is_named_and_nothing_half_written(
        raw_dir: Path, tmp_path: Path, damaged: str, capsys: pytest.CaptureFixture[str]) -> None:
    raw = copy_raw(raw_dir, tmp_path)
    out = tmp_path / "out"
    assert prepare(raw, out) == 0
    dataset = out / ("cifar10" if damaged.startswith("cifar") else "mnist")
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    truncate(raw / damaged)
    assert prepare(raw, out) == 2
    error = capsys.readouterr().err
    assert str(raw / damaged) in error and "truncated" in error, error
    after = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    assert after == before, "a failed preparation must leave the previous subsets untouched"
    assert sorted(p.name for p in out.iterdir()) == ["cifar10", "mnist"], "no staging folder is left behind"


def test_uncompressed_idx_with_a_lying_header_is_rejected(raw_dir: Path, tmp_path: Path) -> None:
    raw = copy_raw(raw_dir, tmp_path)
    gz = raw / "MNIST/raw/train-labels-idx1-ubyte.gz"
    plain = gz.with_suffix("")
    plain.write_bytes(gzip.decompress(gz.read_bytes())[:-7])
    gz.unlink()
    with pytest.raises(RawDataError, match="train-labels-idx1-ubyte: the header promises"):
        read_mnist(raw, "train")


def test_a_pickle_that_would_run_code_is_refused(raw_dir: Path, tmp_path: Path) -> None:
    raw = copy_raw(raw_dir, tmp_path)
    (raw / "cifar-10-batches-py/test_batch").write_bytes(pickle.dumps({"data": os.system}))
    with pytest.raises(RawDataError, match="refusing to load"):
        read_cifar10(raw, "test")


def test_missing_file_is_named(raw_dir: Path, tmp_path: Path) -> None:
    raw = copy_raw(raw_dir, tmp_path)
    (raw / "cifar-10-batches-py/data_batch_5").unlink()
    with pytest.raises(RawDataError, match="data_batch_5: file not found"):
        read_cifar10(raw, "train")


def test_missing_subsets_say_which_command_to_run(tmp_path: Path) -> None:
    with pytest.raises(SubsetMissingError, match=r"Run `python -m data_scripts.prepare`"):
        load_subset("cifar10", "train", tmp_path)
