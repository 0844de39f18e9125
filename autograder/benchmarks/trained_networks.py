"""Time the trained-network check's work per network, and the size of each checkpoint: rubric.toml's [trained].

    python -m autograder.benchmarks.trained_networks            # the lab's networks at their defaults
    python -m autograder.benchmarks.trained_networks --images 2000 --threads 1

Each network of the solution, freshly initialised, is saved as a state_dict and then loaded and run on
`--images` grading test images by the worker's own request (`checkpoint_requests.trained_predict`), in this
process, at the course's thread count: what one check costs a grading, beside the file a student uploads.
Set [trained]'s `seconds` from the largest network a course lists.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from data_scripts.subsets import load_subset

from ..rubric import course_standard
from ..worker.checkpoint_requests import trained_predict
from ..worker.package_loader import load_module
from ..worker.session import Session

REPO = Path(__file__).resolve().parents[2]
NETWORKS = [("resnet34", "resnet", "resnet34", "cifar10"), ("resnet18", "resnet", "resnet18", "cifar10"),
            ("se_resnet18", "senet", "se_resnet18", "cifar10"), ("densenet", "densenet", "densenet_cifar", "cifar10"),
            ("mobilenet", "mobilenet", "MobileNet", "cifar10"), ("lenet5", "baseline", "LeNet5", "mnist")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000, help="test images per network (default: 2,000, as "
                                                                   "prepared from a full download)")
    parser.add_argument("--threads", type=int, default=course_standard().threads,
                        help="torch threads (default: the course's)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        impl = Path(folder)
        for source in (REPO / "solutions").glob("*.py"):
            (impl / source.name).write_bytes(source.read_bytes())
        (impl / "checkpoints").mkdir()
        print(f"{'network':12s} {'checkpoint':>10s} {'seconds':>8s}  ({args.images:,} images, {args.threads} thread"
              f"{'s' * (args.threads > 1)})")
        for name, module, factory, dataset in NETWORKS:
            torch.manual_seed(0)
            network = getattr(load_module(REPO / "solutions", "benchmarked_solution", module), factory)()
            torch.save(network.state_dict(), impl / "checkpoints" / f"{name}.pt")
            images = load_subset(dataset, "test")[0]
            images = images.repeat(-(-args.images // len(images)), 1, 1, 1)[:args.images]  # a partial copy holds fewer
            start = time.perf_counter()
            trained_predict(Session(impl), name, module, factory, {}, images, args.threads)
            size = (impl / "checkpoints" / f"{name}.pt").stat().st_size
            print(f"{name:12s} {size / 1e6:7.2f} MB {time.perf_counter() - start:8.1f}", flush=True)


if __name__ == "__main__":
    main()
