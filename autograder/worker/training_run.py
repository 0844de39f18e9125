"""One training run inside the worker: a model, its data as tensor batches, and the grader's loop.

The grader's loop (`train_epoch`) is its own code, not the solution's: a check on a student's
block trains with it, so a failure points at the block. With `student_loop=True`, the
student's `train_one_epoch` drives the same model, optimizer and schedule instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .tensor_batches import TensorBatches

NORMALISATION = {1: ((0.1307,), (0.3081,)), 3: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))}


def training_cnn(in_channels: int = 3, num_classes: int = 10, width: int = 32) -> nn.Module:
    """The grader's own small CNN, trained by the student's loop in the loop check."""
    def stage(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*stage(in_channels, width), *stage(width, 2 * width), *stage(2 * width, 4 * width),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))


@dataclass(frozen=True)
class Settings:
    """How one check trains: its profile entry over training_profiles.toml's [settings], all given."""

    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    pct_start: float
    weight_decay: float
    label_smoothing: float
    crop_padding: int
    flip: bool


class TrainingRun:
    def __init__(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: Settings,
                 seed: int, device: torch.device) -> None:
        mean, std = NORMALISATION[images.shape[1]]
        self.model = model.to(device)
        if device.type == "cuda":
            # Faster convolutions on GPUs. Not on CPUs: with torch 2.14 a 1-channel ResNet's backward
            # pass crawled, or crashed, in channels-last there.
            self.model = self.model.to(memory_format=torch.channels_last)
        self.batches = TensorBatches(images, labels, settings.batch_size, mean=mean, std=std,
                                     crop_padding=settings.crop_padding, flip=settings.flip, device=device, seed=seed)
        self.device = device
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=settings.lr, momentum=settings.momentum,
                                         nesterov=settings.nesterov, weight_decay=settings.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=settings.lr, total_steps=settings.epochs * len(self.batches),
            pct_start=settings.pct_start)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)

    def train_epoch(self, student_loop: Callable | None = None) -> float:
        """One epoch with the grader's loop, or with `student_loop` (the student's train_one_epoch)."""
        if student_loop is not None:
            return float(student_loop(self.model, self.batches, self.optimizer, self.criterion, self.device,
                                      self.scheduler))
        self.model.train()
        loss_sum, samples = torch.zeros((), device=self.device), 0
        for x, y in self.batches:
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
                loss = self.criterion(self.model(x), y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            loss_sum += loss.detach() * len(y)
            samples += len(y)
        return loss_sum.item() / samples

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return predict(self.model, images, self.device)


def normalised(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 images (N, C, H, W) as the network sees them: floats on `device`, normalised per channel."""
    mean, std = (torch.tensor(v, device=device).view(1, -1, 1, 1) * 255 for v in NORMALISATION[images.shape[1]])
    return (images.to(device).float() - mean) / std


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device, batch_size: int = 128) -> torch.Tensor:
    """Logits for uint8 images (N, C, H, W), normalised as in training (NORMALISATION), in eval mode.

    128 images at a time: DenseNet's evaluation of 256 was the worker's peak (740 MB against 589 MB), and on one or
    two threads every check's logits come out bit for bit as with 256 (the kernels split no differently)."""
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = normalised(images[start:start + batch_size], device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            outputs.append(model(x).float().cpu())
    return torch.cat(outputs)
