"""Variant: SEBasicBlock reuses the student's own BasicBlock; SE squeezes with mean(keepdim)."""

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import BasicBlock, ResNet

class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        self.squeeze_fc = nn.Linear(channels, max(1, channels // reduction))
        self.excite_fc = nn.Linear(max(1, channels // reduction), channels)

    def forward(self, x):
        n, c, _, _ = x.shape
        z = x.mean(dim=[2, 3], keepdim=True).view(n, c)
        s = torch.sigmoid(self.excite_fc(F.relu(self.squeeze_fc(z))))
        return x * s.view(n, c, 1, 1)

class SEBasicBlock(BasicBlock):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__(in_channels, out_channels, stride)
        self.se = SEBlock(out_channels, reduction)

    def main_path(self, x):
        return self.se(super().main_path(x))
