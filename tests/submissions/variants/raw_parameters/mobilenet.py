"""Variant: DepthwiseSeparableConv keeps both kernels as raw nn.Parameters applied with F.conv2d."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.stride, self.groups = stride, in_channels
        self.depthwise = nn.Parameter(torch.empty(in_channels, 1, 3, 3))
        self.pointwise = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        for weight in (self.depthwise, self.pointwise):
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.bn1, self.bn2 = nn.BatchNorm2d(in_channels), nn.BatchNorm2d(out_channels)

    def forward(self, x):
        x = F.relu(self.bn1(F.conv2d(x, self.depthwise, stride=self.stride, padding=1, groups=self.groups)))
        return F.relu(self.bn2(F.conv2d(x, self.pointwise)))
