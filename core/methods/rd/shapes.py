"""The channels and strides of the encoder's tapped layers, probed with a dummy image.

Reverse Distillation's bottleneck and decoder are built from these, so that they fit any backbone the extractor
takes (anomalib hard-codes WideResNet/ResNet widths instead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.backbones.extractor import FeatureExtractor

# Large enough that the deepest stride of every registered backbone (32) still leaves a 4 x 4 map.
_PROBE_SIZE = 128


@dataclass(frozen=True)
class TapShape:
    """One tapped layer: its key in the extractor's output, its channel count and its stride in input pixels."""

    key: str
    channels: int
    stride: int


def probe_taps(encoder: FeatureExtractor) -> tuple[TapShape, ...]:
    """The tapped layers' shapes, shallowest first; strides must be powers of two (all our backbones' are)."""
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        features = encoder(torch.zeros(1, 3, _PROBE_SIZE, _PROBE_SIZE))
    encoder.train(was_training)
    taps = []
    for key, feature in features.items():
        stride = _PROBE_SIZE // feature.shape[-1]
        if feature.shape[-1] * stride != _PROBE_SIZE or not math.log2(stride).is_integer():
            raise ValueError(f"{key}: stride {_PROBE_SIZE / feature.shape[-1]} is not a power of two")
        taps.append(TapShape(key, int(feature.shape[1]), stride))
    return tuple(sorted(taps, key=lambda tap: tap.stride))


def halvings(fine: int, coarse: int) -> int:
    """How many stride-2 steps lead from stride `fine` to stride `coarse`."""
    return int(math.log2(coarse // fine))
