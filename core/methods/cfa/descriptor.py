"""CFA's patch descriptor: a CoordConv 1x1 convolution (Liu et al. 2018) that adapts features to the target.

The two coordinate channels (x and y in -1..1) let the descriptor's output depend on where a patch is, which is how
CFA keeps position information once the memory bank is compressed into position-free entries.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class CoordConvDescriptor(nn.Module):
    """N x C x h x w -> N x C_out x h x w: append x/y coordinate channels, then a 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 2, out_channels, kernel_size=1)

    def forward(self, features: Tensor) -> Tensor:
        height, width = int(features.shape[-2]), int(features.shape[-1])  # fixed per model: constants in a graph
        ys = torch.linspace(-1.0, 1.0, height, dtype=features.dtype, device=features.device)
        xs = torch.linspace(-1.0, 1.0, width, dtype=features.dtype, device=features.device)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"))[None]  # 1 x 2 x h x w: channel 0 is x
        coordinates = grid + torch.zeros_like(features[:, :1])  # broadcast to the (dynamic) batch
        return self.conv(torch.cat([features, coordinates], dim=1))
