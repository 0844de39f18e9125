"""Variant: SEBlock keeps its two linear maps as raw nn.Parameters and applies them with F.linear;
SEBasicBlock keeps its kernels as raw nn.Parameters applied with F.conv2d."""

import math

import torch
import torch.nn.functional as F
from torch import nn


class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze_weight = nn.Parameter(torch.empty(hidden, channels))
        self.squeeze_bias = nn.Parameter(torch.empty(hidden))
        self.excite_weight = nn.Parameter(torch.empty(channels, hidden))
        self.excite_bias = nn.Parameter(torch.empty(channels))
        for weight, bias in ((self.squeeze_weight, self.squeeze_bias), (self.excite_weight, self.excite_bias)):
            bound = 1 / math.sqrt(weight.shape[1])
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, x):
        z = F.relu(F.linear(x.mean(dim=(2, 3)), self.squeeze_weight, self.squeeze_bias))
        return x * torch.sigmoid(F.linear(z, self.excite_weight, self.excite_bias))[:, :, None, None]


class SEBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__()
        self.stride = stride
        self.kernels = nn.ParameterList([torch.empty(out_channels, in_channels, 3, 3),
                                         torch.empty(out_channels, out_channels, 3, 3)])
        for weight in self.kernels:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
        self.norms = nn.ModuleList([nn.BatchNorm2d(out_channels), nn.BatchNorm2d(out_channels)])
        self.excitation = SEBlock(out_channels, reduction)
        self.projection = None
        if stride != 1 or in_channels != out_channels:
            self.projection = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
            nn.init.kaiming_uniform_(self.projection, a=math.sqrt(5))
            self.projection_norm = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        out = F.relu(self.norms[0](F.conv2d(x, self.kernels[0], stride=self.stride, padding=1)))
        out = self.excitation(self.norms[1](F.conv2d(out, self.kernels[1], padding=1)))
        shortcut = x if self.projection is None else self.projection_norm(F.conv2d(x, self.projection, stride=self.stride))
        return F.relu(out + shortcut)
