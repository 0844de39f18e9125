"""Variant: pooling module declared first, explicit attributes, in-place ReLU modules."""

import torch
from torch import nn

class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.relu = nn.ReLU(inplace=True)
        self.norm_a = nn.BatchNorm2d(in_channels)
        self.reduce = nn.Conv2d(in_channels, bn_size * growth_rate, kernel_size=(1, 1), bias=False)
        self.norm_b = nn.BatchNorm2d(bn_size * growth_rate)
        self.grow = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=(3, 3), padding=(1, 1), bias=False)

    def forward(self, x):
        h = self.reduce(self.relu(self.norm_a(x)))
        h = self.grow(self.relu(self.norm_b(h)))
        return torch.cat([x, h], dim=1)

class Transition(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x):
        return self.pool(self.conv(torch.relu(self.norm(x))))
