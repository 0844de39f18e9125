"""Variant: SEBasicBlock subclasses the student's own BasicBlock and overrides forward; SEBlock
squeezes with adaptive average pooling."""

import torch.nn.functional as F
from torch import nn

from .resnet import BasicBlock


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        hidden = max(1, channels // reduction)
        self.excite = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True),
                                    nn.Linear(hidden, channels), nn.Sigmoid())

    def forward(self, x):
        n, c = x.shape[:2]
        return x * self.excite(self.pool(x).view(n, c)).view(n, c, 1, 1)


class SEBasicBlock(BasicBlock):
    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__(in_channels, out_channels, stride)
        self.se = SEBlock(out_channels, reduction)

    def forward(self, x):
        identity = x if self.projection is None else self.projection(x)
        out = F.relu(self.norm_a(self.conv_a(x)))
        return F.relu(self.se(self.norm_b(self.conv_b(out))) + identity)
