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
        raise NotImplementedError('SEBlock.__init__ is yours to write: ASSIGNMENT_SPEC.md, section senet.py, describes SEBlock')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('SEBlock.forward is yours to write: ASSIGNMENT_SPEC.md, section senet.py, describes SEBlock')


class SEBasicBlock(nn.Module):
    """A `BasicBlock` whose main path (after its second BN) is rescaled by an `SEBlock`.

    Output: ReLU(SE(main) + shortcut).
    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H/stride), ceil(W/stride)).
    """

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, reduction: int = 16) -> None:
        super().__init__()
        raise NotImplementedError('SEBasicBlock.__init__ is yours to write: ASSIGNMENT_SPEC.md, section senet.py, describes SEBasicBlock')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError('SEBasicBlock.forward is yours to write: ASSIGNMENT_SPEC.md, section senet.py, describes SEBasicBlock')


def se_resnet18(num_classes: int = 10, in_channels: int = 3, width: int = 64, reduction: int = 16) -> ResNet:
    """ResNet-18 layout ([2, 2, 2, 2]) built from `SEBasicBlock`s."""
    return ResNet(partial(SEBasicBlock, reduction=reduction), [2, 2, 2, 2], num_classes, in_channels, width)
