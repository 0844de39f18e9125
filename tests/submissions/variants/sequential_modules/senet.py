"""Variant: SE with adaptive pooling and 1x1 convolutions instead of nn.Linear."""

from torch import nn

from .resnet import ResNet

class SEBlock(nn.Module):
    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, kernel_size=1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, kernel_size=1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)

class SEBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_channels, out_channels, stride=1, reduction=16):
        super().__init__()
        self.skip = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                      nn.BatchNorm2d(out_channels))
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels),
            SEBlock(out_channels, reduction))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.residual(x) + self.skip(x))
