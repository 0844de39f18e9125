"""Variant: the layers as nn.Sequential, pooling as a module."""

import torch
from torch import nn

class DenseLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(in_channels), nn.ReLU(),
            nn.Conv2d(in_channels, bn_size * growth_rate, 1, bias=False),
            nn.BatchNorm2d(bn_size * growth_rate), nn.ReLU(),
            nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat((x, self.body(x)), 1)

class Transition(nn.Sequential):
    def __init__(self, in_channels, out_channels):
        super().__init__(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, out_channels, 1, bias=False),
                         nn.AvgPool2d(kernel_size=2, stride=2))
