"""Variant: explicit functional calls; the shortcut is computed first, from separately named layers."""
import torch
import torch.nn.functional as F
from torch import nn

class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.use_projection = stride != 1 or in_channels != out_channels
        if self.use_projection:
            self.proj_conv = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
            self.proj_bn = nn.BatchNorm2d(out_channels)
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.n1 = nn.BatchNorm2d(out_channels)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.n2 = nn.BatchNorm2d(out_channels)

    def main_path(self, x):
        return self.n2(self.c2(F.relu(self.n1(self.c1(x)))))

    def forward(self, x):
        identity = self.proj_bn(self.proj_conv(x)) if self.use_projection else x
        out = self.main_path(x)
        out += identity
        return F.relu(out)
