"""Variant: explicit attributes declared pointwise-first, one shared in-place ReLU."""
import torch
from torch import nn

class DepthwiseSeparableConv(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.pw = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0, bias=False)
        self.pw_bn = nn.BatchNorm2d(out_channels)
        self.dw = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=stride, padding=1,
                            groups=in_channels, bias=False)
        self.dw_bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.relu(self.dw_bn(self.dw(x)))
        return self.relu(self.pw_bn(self.pw(x)))
