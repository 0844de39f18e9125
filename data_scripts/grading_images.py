"""The grading images: a fixed list of official image indices per split, and the SHA-256 of the arrays they make.

    python -m data_scripts.grading_images --raw-dir ../shared/data   # choose them anew (then recalibrate)

`grading_images.json` names, for every dataset and split, the official indices of the images
the training checks use, in the order they are stored (classes interleaved, so every prefix is
close to stratified), and the SHA-256 of the image and label arrays they give. An official index
is an image's position in its official split: CIFAR-10 training image `r` of `data_batch_b` is
`(b - 1) * 10000 + r`; a test image, or an MNIST image, is its row. Every index lies in the
leading rows that the partial copy in ../shared/data holds (932 images of each CIFAR-10 training
batch, 846 test images, MNIST's first 3,009 training images), so `prepare` yields the same bytes
from a full download, from that copy, or from any other copy of the official files, and checks
that it does. The thresholds were calibrated on exactly these images (`thresholds.json` records
their hashes): choosing other images means recalibrating.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from functools import cache
from pathlib import Path

import numpy as np

from .raw_formats import RawDataError, RawSplit, read_split
from .subsets import DATASETS, SPLITS, stratified_indices

GRADING_IMAGES_FILE = Path(__file__).resolve().parent / "grading_images.json"
# How many images each split asks for when the list is chosen; a copy with fewer gives what it has.
SIZES = {("cifar10", "train"): 10_000, ("cifar10", "test"): 2_000,
         ("mnist", "train"): 10_000, ("mnist", "test"): 2_000}
SEED = 0


def array_sha256(array: np.ndarray) -> str:
    """The SHA-256 of an array's dtype, shape and bytes."""
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def load_grading_images(path: Path = GRADING_IMAGES_FILE) -> dict:
    """{dataset: {split: {"indices": [...], "images_sha256": ..., "labels_sha256": ...}}}."""
    return json.loads(path.read_text())


@cache
def dataset_sha256(dataset: str, path: Path = GRADING_IMAGES_FILE) -> str:
    """One hash for a dataset's grading images: what thresholds.json records it was calibrated on."""
    entry = load_grading_images(path)[dataset]
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()


def select(raw: RawSplit, indices: list[int], where: Path) -> tuple[np.ndarray, np.ndarray]:
    """The images and uint8 labels at official `indices`, from a split read from the copy in `where`."""
    position = {int(official): row for row, official in enumerate(raw.official)}
    missing = [i for i in indices if i not in position]
    if missing:
        raise RawDataError(where, f"this copy lacks {len(missing)} of the grading images (official indices "
                                  f"{missing[:5]}{'...' if len(missing) > 5 else ''}); it holds {raw.extent()}")
    rows = np.array([position[i] for i in indices], dtype=np.int64)
    return raw.images[rows], raw.labels[rows].astype(np.uint8)


def choose(raw_dir: Path) -> dict:
    """A class-stratified list per split from the copy in `raw_dir` (seed 0), with its arrays' hashes."""
    document = {}
    for dataset in DATASETS:
        document[dataset] = {}
        for split in SPLITS:
            raw = read_split(dataset, raw_dir, split)
            selection = stratified_indices(raw.labels, SIZES[dataset, split], SEED)
            indices = [int(i) for i in raw.official[selection.indices]]
            images, labels = raw.images[selection.indices], raw.labels[selection.indices].astype(np.uint8)
            document[dataset][split] = {"indices": indices, "images_sha256": array_sha256(images),
                                        "labels_sha256": array_sha256(labels)}
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-dir", type=Path, required=True,
                        help="a copy of the official files (cifar-10-batches-py/, MNIST/raw/) to choose from")
    parser.add_argument("--out", type=Path, default=GRADING_IMAGES_FILE,
                        help=f"where the list goes (default: {GRADING_IMAGES_FILE.name} beside this module)")
    args = parser.parse_args(argv)
    try:
        document = choose(args.raw_dir)
    except RawDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.out.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    for dataset, splits in document.items():
        print(f"{dataset}: " + ", ".join(f"{split} {len(e['indices']):,} images" for split, e in splits.items()))
    print(f"written to {args.out}; recalibrate: python -m autograder.instructor.calibrate --budget NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
