"""Print how long loading each prepared grading subset takes (target: well under a second).

    python -m data_scripts.benchmark_load
"""
from __future__ import annotations

import argparse
import time

from .subsets import DATASETS, SPLITS, load_subset


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    for dataset in DATASETS:
        for split in SPLITS:
            start = time.perf_counter()
            images, labels = load_subset(dataset, split)
            seconds = time.perf_counter() - start
            print(f"{dataset:8s} {split:5s} {tuple(images.shape)!s:22s} {images.nbytes / 2**20:6.1f} MiB  {seconds * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
