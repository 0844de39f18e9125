"""Variant: SEBlock keeps its two linear maps as raw nn.Parameters and applies them with F.linear."""

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
