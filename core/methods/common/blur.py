"""Separable Gaussian blur, as two 1-D convolutions so that it stays cheap at input resolution and exports to ONNX."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class GaussianBlur(nn.Module):
    """Smooth single-channel maps (N x 1 x H x W) with a Gaussian of `sigma` pixels (kernel radius 4 sigma)."""

    def __init__(self, sigma: float = 4.0) -> None:
        super().__init__()
        radius = max(1, math.ceil(4 * sigma))
        offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
        kernel = kernel / kernel.sum()
        self.radius = radius
        self.register_buffer("kernel_x", kernel.view(1, 1, 1, -1), persistent=False)
        self.register_buffer("kernel_y", kernel.view(1, 1, -1, 1).clone(), persistent=False)

    def forward(self, maps: Tensor) -> Tensor:
        # Reflect padding keeps borders from fading to zero, which would hide defects at the image edge. It needs
        # more positions than the radius; a smaller map (a coarse grid of a tiny image) repeats its edge instead.
        height, width = maps.shape[-2:]
        mode = "reflect" if self.radius < min(int(height), int(width)) else "replicate"
        maps = F.pad(maps, (self.radius, self.radius, 0, 0), mode=mode)
        maps = F.conv2d(maps, self.kernel_x)
        maps = F.pad(maps, (0, 0, self.radius, self.radius), mode=mode)
        return F.conv2d(maps, self.kernel_y)
