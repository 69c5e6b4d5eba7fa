"""The base of methods that fit statistics on a frozen pre-trained backbone and train nothing (PaDiM, PatchCore).

It holds the shared feature extractor (always in eval mode: batch norm keeps its ImageNet statistics), the map's
Gaussian blur, the number of channels the tapped layers give, and lets fitted buffers whose size only fitting knows
(`fitted_buffers`) take their saved shapes on load.

Example:
    >>> class MyModel(FrozenFeatureModel):
    ...     fitted_buffers = ("mean",)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from core.backbones.extractor import FeatureExtractor
from core.backbones.weights import PRETRAINED
from core.methods.common.smoothed_map import SmoothedMap, finest_stride


class FrozenFeatureModel(nn.Module):
    """Frozen `backbone` tapped at `layers`, plus the map's blur; `feature_channels` is the tapped channels' sum."""

    fitted_buffers: tuple[str, ...] = ()  # buffers sized by the data: resized to the saved shape before loading

    def __init__(self, backbone: str, layers: Sequence[int], weights: str | Path = PRETRAINED,
                 blur_sigma: float = 4.0) -> None:
        super().__init__()
        self.extractor = FeatureExtractor(backbone, layers, weights)
        self.extractor.requires_grad_(False)
        self.smooth = SmoothedMap(blur_sigma, finest_stride(self.extractor))
        with torch.no_grad():
            probe = self.extractor(torch.zeros(1, 3, 64, 64))
        self.feature_channels = sum(feature.shape[1] for feature in probe.values())

    def train(self, mode: bool = True) -> "FrozenFeatureModel":
        return super().train(False)  # nothing here trains; batch norm must always use its ImageNet statistics

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 - torch's signature
        for name in self.fitted_buffers:
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
