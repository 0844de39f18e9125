"""Variant: DenseLayer and Transition keep their kernels as raw nn.Parameters applied with F.conv2d,
the 3x3 kernel registered before the 1x1 one; only the batch norms are modules."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        inner = bn_size * growth_rate
        self.spatial = nn.Parameter(torch.empty(growth_rate, inner, 3, 3))
        self.bottleneck = nn.Parameter(torch.empty(inner, in_channels, 1, 1))
        for weight in (self.spatial, self.bottleneck):
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.norm_in, self.norm_inner = nn.BatchNorm2d(in_channels), nn.BatchNorm2d(inner)

    def forward(self, x):
        inner = F.conv2d(F.relu(self.norm_in(x)), self.bottleneck)
        return torch.cat([x, F.conv2d(F.relu(self.norm_inner(inner)), self.spatial, padding=1)], dim=1)


class Transition(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.norm = nn.BatchNorm2d(in_channels)

    def forward(self, x):
        return F.avg_pool2d(F.conv2d(F.relu(self.norm(x)), self.weight), 2)
