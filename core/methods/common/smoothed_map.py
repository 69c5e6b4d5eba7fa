"""The last step of every method's anomaly map: smooth it on the feature grid, upsample it once, read the score.

The map used to be upsampled to the input's resolution first and blurred there: a 33-tap Gaussian each way over
256 x 256, about 3 ms of every inference and FP32 even in INT8 graphs. Blurring on the finest feature grid with the
same width in pixels (sigma / stride) and upsampling the result once does a fraction of the work (a 9-tap blur over
64 x 64 at stride 4) for nearly the same map, bilinear upsampling being a smoothing of its own. The image score is
the smoothed grid's maximum: every bilinearly upsampled value is a weighted mean of grid values, so the full map
holds nothing higher, and the maximum over 4,096 values is cheaper than over 65,536.

Example:
    >>> smooth = SmoothedMap(sigma=4.0, stride=finest_stride(extractor))
    >>> scores, maps = smooth(grid_map, pixels.shape[-2:])   # N, N x 1 x H x W
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.methods.common.blur import GaussianBlur

PROBE_SIZE = 64


def finest_stride(extractor: nn.Module) -> int:
    """Input pixels per position of the finest map that `extractor(pixels)` (a dict of maps) returns."""
    with torch.no_grad():
        features = extractor(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))
    return PROBE_SIZE // max(feature.shape[-1] for feature in features.values())


def finest_grid(maps: Iterable[Tensor]) -> tuple[int, int]:
    """Height and width of the finest of `maps` (the grid the others are resized onto)."""
    return max((tuple(int(side) for side in value.shape[-2:]) for value in maps), key=lambda shape: shape[-1])


def to_grid(maps: Tensor, grid: Sequence[int]) -> Tensor:
    """A coarser map bilinearly resized onto the finest map's grid (unchanged when it is already on it)."""
    if tuple(maps.shape[-2:]) == tuple(grid):
        return maps
    return F.interpolate(maps, size=tuple(int(side) for side in grid), mode="bilinear", align_corners=False)


class SmoothedMap(nn.Module):
    """(N x 1 x h x w map on a grid of `stride` pixels, output size) -> (scores N, maps N x 1 x H x W)."""

    def __init__(self, sigma: float, stride: int) -> None:
        super().__init__()
        self.blur = GaussianBlur(sigma / stride)

    def forward(self, grid_map: Tensor, size: Sequence[int]) -> tuple[Tensor, Tensor]:
        smoothed = self.blur(grid_map)
        scores = smoothed.flatten(1).amax(dim=1)
        maps = F.interpolate(smoothed, size=tuple(int(side) for side in size), mode="bilinear", align_corners=False)
        return scores, maps
