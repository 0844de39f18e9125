"""Squeeze-and-excitation ResNet (Hu et al., 2018)."""
from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import ResNet


class SEBlock(nn.Module):
    """Channel attention: global average pool -> linear -> ReLU -> linear -> sigmoid -> rescale.

    The hidden layer has `max(1, channels // reduction)` units; both linears have biases.
    Shapes: (N, channels, H, W) -> (N, channels, H, W), each channel scaled by s in (0, 1).
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        s = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * s[:, :, None, None]
        ### END SOLUTION


class SEBasicBlock(nn.Module):
    """A `BasicBlock` whose main path (after its second BN) is rescaled by an `SEBlock`.

    Output: ReLU(SE(main) + shortcut).
    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, reduction: int = 16) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.se = SEBlock(out_channels, reduction)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.se(self.bn2(self.conv2(out)))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION


def se_resnet18(num_classes: int = 10, in_channels: int = 3, width: int = 64, reduction: int = 16) -> ResNet:
    """ResNet-18 layout ([2, 2, 2, 2]) built from `SEBasicBlock`s."""
    return ResNet(partial(SEBasicBlock, reduction=reduction), [2, 2, 2, 2], num_classes, in_channels, width)
