"""Locally aware patch features (PatchCore, Roth et al. 2022; CFA, Lee et al. 2022, use the same construction).

Each tapped layer is averaged over a 3x3 neighbourhood, upsampled to the finest tapped resolution and the layers are
concatenated along channels, so that every position sees a little context at several scales.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor
from torch.nn import functional as F


def locally_aware_patches(features: Iterable[Tensor]) -> Tensor:
    """N x (sum of channels) x h x w from feature maps ordered finest first."""
    pooled = [F.avg_pool2d(feature, 3, stride=1, padding=1) for feature in features]
    size = pooled[0].shape[-2:]
    resized = [p if p.shape[-2:] == size else F.interpolate(p, size=size, mode="bilinear", align_corners=False)
               for p in pooled]
    return torch.cat(resized, dim=1)
