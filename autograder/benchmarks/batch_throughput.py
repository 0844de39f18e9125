"""Training throughput of the grader's batches against a plain loop, on the same model and machine.

    python -m autograder.benchmarks.batch_throughput [--images 2048] [--width 16]

The plain loop is the one in the course's lab reports: PIL images through torchvision
transforms (random crop with padding 4, horizontal flip, to-tensor, normalise) and a
DataLoader of batch size 32 with 2 worker processes. The grader's loop keeps the subset in
one tensor on the device and augments whole batches of 256 with tensor operations. Both
train the reference ResNet-18 at the given width with SGD; the figure is images per second.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Iterable

import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from data_scripts.subsets import load_subset

from ..worker.package_loader import load_module
from ..worker.tensor_batches import TensorBatches
from ..worker.training_run import NORMALISATION

CIFAR_MEAN, CIFAR_STD = NORMALISATION[3]
SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


class PILImages(Dataset):
    """The subset as a torchvision-style dataset of PIL images."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images.permute(0, 2, 3, 1).numpy(), labels
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def images_per_second(model: torch.nn.Module, batches: Iterable, images: int, device: torch.device) -> float:
    """Train on batches until `images` images have gone through (after one warm-up batch)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    seen, start = -1, 0.0
    while seen < images:
        for x, y in batches:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            if seen < 0:
                seen, start = 0, time.perf_counter()
                continue
            seen += len(y)
            if seen >= images:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2048, help="images to time in each loop")
    parser.add_argument("--width", type=int, default=16, help="ResNet-18 width")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    images, labels = load_subset("cifar10", "train")
    resnet = load_module(SOLUTIONS, "reference_solution", "resnet")
    loops = {
        "plain (PIL + DataLoader, batch 32, 2 workers)":
            DataLoader(PILImages(images, labels), batch_size=32, shuffle=True, num_workers=2),
        # Same batch size as the plain loop: separates the data path's gain from the batch size's.
        "tensor batches, batch 32":
            TensorBatches(images, labels, 32, mean=CIFAR_MEAN, std=CIFAR_STD, crop_padding=4, flip=True,
                          device=device),
        "grader (tensor batches, batch 256)":
            TensorBatches(images, labels, 256, mean=CIFAR_MEAN, std=CIFAR_STD, crop_padding=4, flip=True,
                          device=device),
    }
    rates = {}
    for name, batches in loops.items():
        torch.manual_seed(0)
        rates[name] = images_per_second(resnet.resnet18(width=args.width).to(device), batches, args.images, device)
        print(f"{name:48s} {rates[name]:8.0f} images/s")
    plain, _, grader = rates.values()
    print(f"ratio: {grader / plain:.1f}x  (ResNet-18 width {args.width}, {device}, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
