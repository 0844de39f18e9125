"""MobileNet v1 for CIFAR-sized inputs (Howard et al., 2017)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Output channels of each depthwise-separable block; a pair also gives the stride.
CONFIG: list[int | tuple[int, int]] = [
    64, (128, 2), 128, (256, 2), 256, (512, 2), 512, 512, 512, 512, 512, (1024, 2), 1024,
]


class DepthwiseSeparableConv(nn.Module):
    """Depthwise conv3x3 (one filter per channel) -> BN -> ReLU -> pointwise conv1x1 -> BN -> ReLU.

    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride=stride, padding=1, groups=in_channels, bias=False
        )
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        x = F.relu(self.bn1(self.depthwise(x)))
        return F.relu(self.bn2(self.pointwise(x)))
        ### END SOLUTION


class MobileNet(nn.Module):
    """Stem conv3x3 to 32 channels, the blocks of `CONFIG`, global average pool, linear.

    Every channel count is scaled by `width_mult` (rounded down, at least 1).
    Shapes: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width_mult: float = 1.0) -> None:
        super().__init__()

        def scaled(c: int) -> int:
            return max(1, int(c * width_mult))

        channels = scaled(32)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        for entry in CONFIG:
            out_channels, stride = entry if isinstance(entry, tuple) else (entry, 1)
            layers.append(DepthwiseSeparableConv(channels, scaled(out_channels), stride))
            channels = scaled(out_channels)
        layers.append(nn.AdaptiveAvgPool2d(1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))
