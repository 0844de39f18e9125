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

from data_scripts.grading_images import choose, dataset_sha256, load_grading_images
from data_scripts.prepare import main as prepare_main
from data_scripts.raw_formats import RawDataError, read_cifar10, read_mnist
from data_scripts.subsets import SubsetMissingError, load_manifest, load_subset, stratified_indices


def prepare(raw_dir: Path, out: Path, *extra: str) -> int:
    return prepare_main(["--raw-dir", str(raw_dir), "--out", str(out), *extra])


@pytest.fixture(scope="module")
def prepared(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    assert prepare(raw_dir, out) == 0
    return out


def test_the_grading_images_and_their_layout(prepared: Path) -> None:
    grading = load_grading_images()
    for dataset, shape in [("cifar10", (3, 32, 32)), ("mnist", (1, 28, 28))]:
        for split in ("train", "test"):
            images, labels = load_subset(dataset, split, prepared)
            assert images.shape == (len(grading[dataset][split]["indices"]), *shape)
            assert str(images.dtype) == "torch.uint8"
            # Classes are interleaved, so any prefix stays stratified.
            assert sorted(labels[:10].tolist()) == list(range(10))
        assert load_manifest(dataset, prepared)["grading_images_sha256"] == dataset_sha256(dataset)
    cifar_train = load_subset("cifar10", "train", prepared)[1]
    assert np.bincount(cifar_train[:2500].numpy()).tolist() == [250] * 10, "the cpu profile's 2,500 are balanced"


def test_the_shipped_list_is_what_the_partial_copy_gives(raw_dir: Path) -> None:
    """Every grading image lies in ../shared/data, and choosing anew from it reproduces the list."""
    assert choose(raw_dir) == load_grading_images()


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


def extend_cifar_batch(path: Path, extra: int, rng: np.random.Generator, keep: int | None = None) -> None:
    """Rewrite a CIFAR-10 batch with its first `keep` rows and `extra` made-up rows after them."""
    with path.open("rb") as f:
        batch = pickle.load(f, encoding="latin1")
    rows = len(batch["labels"]) if keep is None else keep
    batch["data"] = np.concatenate([batch["data"][:rows], rng.integers(0, 256, (extra, 3072), dtype=np.uint8)])
    batch["labels"] = list(batch["labels"][:rows]) + rng.integers(0, 10, extra).tolist()
    if "filenames" in batch:
        batch["filenames"] = list(batch["filenames"][:rows]) + [f"made_up_{i}.png" for i in range(extra)]
    with path.open("wb") as f:
        pickle.dump(batch, f)


def extend_idx(path: Path, extra: int, rng: np.random.Generator) -> None:
    """Append `extra` made-up records to a gzipped IDX file and raise its count to match."""
    data = bytearray(gzip.decompress(path.read_bytes()))
    count = int.from_bytes(data[4:8], "big")
    record = (len(data) - 4 - 4 * data[3]) // count
    data[4:8] = (count + extra).to_bytes(4, "big")
    made_up = rng.integers(0, 256 if record > 1 else 10, extra * record, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(bytes(data) + made_up))


def test_a_fuller_copy_gives_byte_identical_subsets(raw_dir: Path, prepared: Path, tmp_path: Path) -> None:
    """The official files with images beyond the partial copy's rows, as a full download has, give the same bytes."""
    raw, rng = copy_raw(raw_dir, tmp_path), np.random.default_rng(0)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        extend_cifar_batch(raw / "cifar-10-batches-py" / name, 300, rng)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        extend_idx(raw / "MNIST/raw" / name, 500, rng)
    assert len(read_mnist(raw, "train").labels) == len(read_mnist(raw_dir, "train").labels) + 500
    assert prepare(raw, tmp_path / "fuller") == 0
    for dataset in ("cifar10", "mnist"):
        for name in ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"):
            assert (tmp_path / "fuller" / dataset / name).read_bytes() == (prepared / dataset / name).read_bytes(), name


def test_a_copy_without_a_grading_image_is_refused(raw_dir: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    raw = copy_raw(raw_dir, tmp_path)
    extend_cifar_batch(raw / "cifar-10-batches-py/data_batch_2", 0, np.random.default_rng(0), keep=500)
    assert prepare(raw, tmp_path / "out", "--datasets", "cifar10") == 2
    error = capsys.readouterr().err
    assert "lacks" in error and "data_batch_2: 500 images" in error, error


def test_a_modified_image_is_refused(raw_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One pixel of one grading image changed: the thresholds would not hold, so nothing is prepared."""
    raw = copy_raw(raw_dir, tmp_path)
    path = raw / "cifar-10-batches-py/test_batch"
    with path.open("rb") as f:
        batch = pickle.load(f, encoding="latin1")
    batch["data"][0, 0] ^= 1
    with path.open("wb") as f:
        pickle.dump(batch, f)
    assert prepare(raw, tmp_path / "out", "--datasets", "cifar10") == 2
    error = capsys.readouterr().err
    assert "cifar10 test: the images read from" in error and "are not the grading images" in error, error
    assert not (tmp_path / "out" / "cifar10").exists()


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
