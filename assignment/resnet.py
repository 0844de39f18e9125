"""ResNet for CIFAR-sized inputs (He et al., 2016), built from `BasicBlock`."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection.

    Main path: conv3x3(stride) -> BN -> ReLU -> conv3x3 -> BN.
    Shortcut: identity when `stride == 1` and the width is unchanged,
    otherwise conv1x1(stride) -> BN. Output: ReLU(main + shortcut).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        raise NotImplementedError('BasicBlock.__init__ is yours to write: ASSIGNMENT_SPEC.md, section resnet.py, describes BasicBlock')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('BasicBlock.forward is yours to write: ASSIGNMENT_SPEC.md, section resnet.py, describes BasicBlock')


class ResNet(nn.Module):
    """Stem conv3x3 -> BN -> ReLU, four stages, global average pool, linear.

    `block(in_channels, out_channels, stride)` builds one residual block; stage `i` has
    `width * 2**i * block.expansion` channels and stages 2-4 halve the resolution.
    Shapes: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(
        self,
        block: Callable[[int, int, int], nn.Module],
        num_blocks: Sequence[int],
        num_classes: int = 10,
        in_channels: int = 3,
        width: int = 64,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        stages = []
        channels = width
        expansion = getattr(block, "expansion", 1)
        for i, (blocks, stride) in enumerate(zip(num_blocks, (1, 2, 2, 2))):
            out_channels = width * 2**i
            layers = []
            for j in range(blocks):
                layers.append(block(channels, out_channels, stride if j == 0 else 1))
                channels = out_channels * expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.classifier(torch.flatten(self.pool(x), 1))


def resnet18(num_classes: int = 10, in_channels: int = 3, width: int = 64) -> ResNet:
    """ResNet-18: 11,173,962 parameters at the defaults."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, width)


def resnet34(num_classes: int = 10, in_channels: int = 3, width: int = 64) -> ResNet:
    """ResNet-34: stages of [3, 4, 6, 3] basic blocks."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, width)
