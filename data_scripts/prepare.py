"""Prepare the CIFAR-10 and MNIST grading subsets: the fixed grading images, verified.

    python -m data_scripts.prepare                       # download the official archives
    python -m data_scripts.prepare --raw-dir ../shared/data   # read files already on disk

With a network, torchvision downloads the official archives (verifying their MD5
checksums, with a progress bar) into --download-dir. With --raw-dir, or the environment
variable CNNLAB_RAW_DATA, the official on-disk formats are read from that folder
(`cifar-10-batches-py/`, `MNIST/raw/`) without checksums, so partial copies work.
Either way the subsets are the images `grading_images.json` names, and their arrays must
have the SHA-256 it records: the images the thresholds were calibrated on, byte for byte.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .grading_images import GRADING_IMAGES_FILE, array_sha256, dataset_sha256, load_grading_images, select
from .raw_formats import RawDataError, read_split
from .subsets import DATASETS, ROOT_VARIABLE, SPLITS, dataset_root, save_dataset

RAW_VARIABLE = "CNNLAB_RAW_DATA"
DEFAULT_DOWNLOADS = Path(__file__).resolve().parent / "downloads"


class GradingImagesMismatch(Exception):
    """The images read differ from the grading images: the thresholds would not hold for them."""


def download(dataset: str, folder: Path) -> None:
    """Fetch the official archives with torchvision, which verifies their checksums."""
    from torchvision import datasets

    cls = {"cifar10": datasets.CIFAR10, "mnist": datasets.MNIST}[dataset]
    for train in (True, False):
        cls(str(folder), train=train, download=True)


def prepare(dataset: str, raw_dir: Path, out_root: Path) -> list[str]:
    """Build, verify and store one dataset's grading subsets; return one report line per split."""
    grading = load_grading_images()[dataset]
    arrays, splits, sources, report = {}, {}, {}, []
    for split in SPLITS:
        entry, raw = grading[split], read_split(dataset, raw_dir, split)
        images, labels = select(raw, entry["indices"], raw_dir)
        for kind, array in (("images", images), ("labels", labels)):
            if array_sha256(array) != entry[f"{kind}_sha256"]:
                raise GradingImagesMismatch(
                    f"{dataset} {split}: the {kind} read from {raw_dir} are not the grading images "
                    f"({GRADING_IMAGES_FILE.name} records SHA-256 {entry[f'{kind}_sha256'][:12]}..., these give "
                    f"{array_sha256(array)[:12]}...): is this copy of the official files modified? The thresholds "
                    "hold only for the images they were calibrated on")
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images, labels
        per_class = np.bincount(labels, minlength=10).tolist()
        splits[split] = {"size": len(labels), "per_class": per_class, "image_shape": list(images.shape[1:])}
        sources.update(raw.sources)
        report.append(f"{dataset} {split}: {len(labels):,} grading images, per class {per_class}, verified")
    manifest = {
        "dataset": dataset, "grading_images_sha256": dataset_sha256(dataset), "splits": splits,
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
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS),
                        help="the datasets to prepare (default: all)")
    args = parser.parse_args(argv)

    out_root = dataset_root(args.out)
    for dataset in args.datasets:
        raw_dir = args.raw_dir
        if raw_dir is None:
            raw_dir = args.download_dir
            download(dataset, raw_dir)
        try:
            lines = prepare(dataset, raw_dir, out_root)
        except (RawDataError, GradingImagesMismatch) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print("\n".join(lines))
    print(f"subsets written to {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
