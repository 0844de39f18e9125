"""Variant: every BN of DenseLayer and Transition starts with a constant scale of 0.5 and a shift of 0.1,
and the kernels are Kaiming-uniform for ReLU (fan-in)."""

import torch
import torch.nn.functional as F
from torch import nn


class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        inner = bn_size * growth_rate
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, inner, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(inner)
        self.conv2 = nn.Conv2d(inner, growth_rate, 3, padding=1, bias=False)
        for bn in (self.bn1, self.bn2):
            nn.init.constant_(bn.weight, 0.5)
            nn.init.constant_(bn.bias, 0.1)
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")

    def forward(self, x):
        new = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([x, new], dim=1)


class Transition(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        nn.init.constant_(self.bn.weight, 0.5)
        nn.init.constant_(self.bn.bias, 0.1)
        nn.init.kaiming_uniform_(self.conv.weight, nonlinearity="relu")

    def forward(self, x):
        return F.avg_pool2d(self.conv(F.relu(self.bn(x))), 2)
