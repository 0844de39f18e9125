"""Training batches from a dataset held whole as one tensor, augmented with tensor operations.

No DataLoader, no worker processes, no PIL: the images sit on the training device as one
uint8 tensor, each batch is gathered by index, and random crops (with zero padding) and
horizontal flips are computed for the whole batch at once. Iterating gives
(float images (B, C, H, W), int64 labels (B,)), normalised per channel. Like a DataLoader
(and the spec's `loader`) it has a length, a `batch_size` and a `dataset` with a length.
"""
from __future__ import annotations

import math
from typing import Iterator, Sequence

import torch
from torch.utils.data import TensorDataset


class TensorBatches:
    """One epoch per iteration; a new shuffle and new augmentations each time, fixed by `seed`."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        mean: Sequence[float],
        std: Sequence[float],
        shuffle: bool = True,
        crop_padding: int = 0,
        flip: bool = False,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() != 4 or len(images) != len(labels):
            raise ValueError(f"expected uint8 images (N, C, H, W) and N labels, got {images.dtype} "
                             f"{tuple(images.shape)} and {tuple(labels.shape)}")
        self.images = images.to(device)
        self.labels = labels.to(device=device, dtype=torch.long)
        self.batch_size, self.shuffle, self.padding, self.flip = batch_size, shuffle, crop_padding, flip
        channels = images.shape[1]
        self.mean = torch.tensor(mean, device=device).view(1, channels, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, channels, 1, 1) * 255
        self.generator = torch.Generator(device=self.images.device).manual_seed(seed)
        self.dataset = TensorDataset(self.images, self.labels)

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        count, device = len(self.images), self.images.device
        order = (torch.randperm(count, generator=self.generator, device=device) if self.shuffle
                 else torch.arange(count, device=device))
        for start in range(0, count, self.batch_size):
            index = order[start:start + self.batch_size]
            batch = self.images[index]
            if self.padding:
                batch = self.random_crop(batch)
            if self.flip:
                flipped = torch.rand(len(batch), generator=self.generator, device=device) < 0.5
                batch = torch.where(flipped[:, None, None, None], batch.flip(3), batch)
            yield (batch.float() - self.mean) / self.std, self.labels[index]

    def random_crop(self, batch: torch.Tensor) -> torch.Tensor:
        """Each image shifted by its own random offset of up to `padding` pixels, zeros filling in."""
        n, c, h, w = batch.shape
        p, device = self.padding, batch.device
        padded = torch.nn.functional.pad(batch, (p, p, p, p))
        dy = torch.randint(0, 2 * p + 1, (n,), generator=self.generator, device=device)
        dx = torch.randint(0, 2 * p + 1, (n,), generator=self.generator, device=device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, None, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, None, :]
        return padded[torch.arange(n, device=device)[:, None, None, None],
                      torch.arange(c, device=device)[None, :, None, None], rows, cols]
