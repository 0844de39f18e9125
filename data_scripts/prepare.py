"""Prepare the CIFAR-10 and MNIST grading subsets.

    python -m data_scripts.prepare                       # download the official archives
    python -m data_scripts.prepare --raw-dir ../shared/data   # read files already on disk

With a network, torchvision downloads the official archives (verifying their MD5
checksums, with a progress bar) into --download-dir. With --raw-dir, or the environment
variable CNNLAB_RAW_DATA, the official on-disk formats are read from that folder
(`cifar-10-batches-py/`, `MNIST/raw/`) without checksums, so partial copies work.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .raw_formats import RawDataError, RawSplit, read_cifar10, read_mnist
from .subsets import DATASETS, ROOT_VARIABLE, SPLITS, dataset_root, save_dataset, stratified_indices

RAW_VARIABLE = "CNNLAB_RAW_DATA"
DEFAULT_DOWNLOADS = Path(__file__).resolve().parent / "downloads"
DEFAULT_SIZES = {("cifar10", "train"): 10_000, ("cifar10", "test"): 2_000,
                 ("mnist", "train"): 10_000, ("mnist", "test"): 2_000}
READERS: dict[str, Callable[[Path, str], RawSplit]] = {"cifar10": read_cifar10, "mnist": read_mnist}


def download(dataset: str, folder: Path) -> None:
    """Fetch the official archives with torchvision, which verifies their checksums."""
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "mnist": datasets.MNIST}[dataset]
    for train in (True, False):
        cls(str(folder), train=train, download=True)


def prepare(dataset: str, raw_dir: Path, out_root: Path, sizes: dict[str, int], seed: int) -> list[str]:
    """Build and store one dataset's subsets; return one report line per split."""
    arrays, splits, sources, report = {}, {}, {}, []
    for split in SPLITS:
        raw = READERS[dataset](raw_dir, split)
        selection = stratified_indices(raw.labels, sizes[split], seed)
        arrays[f"{split}_images"] = raw.images[selection.indices]
        arrays[f"{split}_labels"] = raw.labels[selection.indices].astype("uint8")
        size = len(selection.indices)
        splits[split] = {
            "requested": sizes[split], "size": size, "available": len(raw.labels),
            "per_class": selection.per_class, "image_shape": list(raw.images.shape[1:]),
        }
        sources.update(raw.sources)
        line = f"{dataset} {split}: {size:,} images from {len(raw.labels):,}, per class {selection.per_class}"
        if selection.shortfall:
            line += f"\n  fewer images exist than the {sizes[split]:,} asked for ({'; '.join(selection.shortfall)}): using what exists"
        report.append(line)
    manifest = {
        "dataset": dataset, "seed": seed, "splits": splits,
        "format": "<split>_images.npy uint8 (N, C, H, W); <split>_labels.npy uint8 (N,); classes interleaved",
        "sources": [{"file": path, "sha256": digest} for path, digest in sorted(sources.items())],
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    save_dataset(out_root / dataset, arrays, manifest)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw-dir", type=Path, default=os.environ.get(RAW_VARIABLE) or None,
                        help=f"read official files from here instead of downloading (default: ${RAW_VARIABLE})")
    parser.add_argument("--download-dir", type=Path, default=DEFAULT_DOWNLOADS,
                        help=f"where downloads of the official files are kept (default: {DEFAULT_DOWNLOADS})")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where the subsets go (default: ${ROOT_VARIABLE}, else data_scripts/prepared)")
    parser.add_argument("--seed", type=int, default=0, help="fixes which images each subset takes (default: 0)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="the datasets to prepare (default: all)")
    for (dataset, split), size in DEFAULT_SIZES.items():
        parser.add_argument(f"--{dataset}-{split}", type=int, default=size, metavar="N",
                            help=f"images in the {dataset} {split} subset (default {size:,})")
    args = parser.parse_args(argv)

    out_root = dataset_root(args.out)
    for dataset in args.datasets:
        raw_dir = args.raw_dir
        if raw_dir is None:
            raw_dir = args.download_dir
            download(dataset, raw_dir)
        sizes = {split: getattr(args, f"{dataset}_{split}") for split in SPLITS}
        try:
            lines = prepare(dataset, raw_dir, out_root, sizes, args.seed)
        except RawDataError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n".join(lines))
    print(f"subsets written to {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
