"""DenseNet-BC for CIFAR-sized inputs (Huang et al., 2017)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    """Bottleneck layer: BN -> ReLU -> conv1x1 -> BN -> ReLU -> conv3x3, then concatenation.

    The new `growth_rate` feature maps are appended after the input, which passes unchanged.
    Shapes: (N, in_channels, H, W) -> (N, in_channels + growth_rate, H, W).
    """

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int = 4) -> None:
        super().__init__()
        raise NotImplementedError('DenseLayer.__init__ is yours to write: ASSIGNMENT_SPEC.md, section densenet.py, describes DenseLayer')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('DenseLayer.forward is yours to write: ASSIGNMENT_SPEC.md, section densenet.py, describes DenseLayer')


class Transition(nn.Module):
    """Between dense blocks: BN -> ReLU -> conv1x1 -> 2x2 average pool (stride 2).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        raise NotImplementedError('Transition.__init__ is yours to write: ASSIGNMENT_SPEC.md, section densenet.py, describes Transition')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('Transition.forward is yours to write: ASSIGNMENT_SPEC.md, section densenet.py, describes Transition')


class DenseBlock(nn.Sequential):
    """`num_layers` dense layers; each sees every earlier layer's output.

    Shapes: (N, in_channels, H, W) -> (N, in_channels + num_layers * growth_rate, H, W).
    """

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int = 4) -> None:
        super().__init__(
            *(DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size) for i in range(num_layers))
        )


class DenseNet(nn.Module):
    """Stem conv3x3, dense blocks joined by transitions, BN -> ReLU -> pool -> linear.

    Each transition keeps `floor(channels * reduction)` channels and halves H and W.
    Shapes: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        block_config: Sequence[int] = (6, 12, 24, 16),
        growth_rate: int = 12,
        reduction: float = 0.5,
        num_classes: int = 10,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        channels = 2 * growth_rate
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1, bias=False)]
        for i, num_layers in enumerate(block_config):
            layers.append(DenseBlock(num_layers, channels, growth_rate))
            channels += num_layers * growth_rate
            if i < len(block_config) - 1:
                out_channels = math.floor(channels * reduction)
                layers.append(Transition(channels, out_channels))
                channels = out_channels
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def densenet_cifar(num_classes: int = 10, in_channels: int = 3) -> DenseNet:
    """DenseNet-BC at the default configuration (block_config (6, 12, 24, 16), growth rate 12)."""
    return DenseNet(num_classes=num_classes, in_channels=in_channels)
