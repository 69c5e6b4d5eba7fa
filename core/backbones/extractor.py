"""The one feature extractor every method shares: a backbone cut after its deepest tapped layer.

It takes raw pixels (float, 0..255, RGB, NCHW) and normalises them itself, with the backbone's mean and std held as
buffers, so that an exported graph carries its own pre-processing.

Example:
    >>> extractor = FeatureExtractor("tf_efficientnet_lite0", layers=(3, 9, 14), weights="random")
    >>> features = extractor(torch.zeros(1, 3, 256, 256))   # {"layer3": ..., "layer9": ..., "layer14": ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from core.backbones.layers import flatten_layers
from core.backbones.registry import get_backbone
from core.backbones.weights import PRETRAINED, create_network


def layer_key(index: int) -> str:
    return f"layer{index}"


class PixelNormalisation(nn.Module):
    """(x - mean) / std with per-channel constants for pixel values in 0..255."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("inverse_std", 1.0 / torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: Tensor) -> Tensor:
        return (pixels - self.mean) * self.inverse_std


def backbone_layers(name: str, count: int, weights: str | Path = PRETRAINED) -> nn.ModuleList:
    """The first `count` layers of backbone `name`, as a ModuleList (the rest of the network is dropped)."""
    layers = flatten_layers(create_network(name, weights))
    if count > len(layers):
        raise ValueError(f"backbone {name} has {len(layers)} layers; layer {count - 1} does not exist")
    return nn.ModuleList(layers[:count])


def run_layers(layers: nn.ModuleList, x: Tensor, first: int, taps: Sequence[int]) -> dict[str, Tensor]:
    """Run `layers[first:]` (indexed by absolute layer number) on `x` and collect the outputs of `taps`."""
    features: dict[str, Tensor] = {}
    for offset, layer in enumerate(layers):
        x = layer(x)
        if first + offset in taps:
            features[layer_key(first + offset)] = x
    return features


class FeatureExtractor(nn.Module):
    """Backbone `backbone` cut after max(layers); forward returns {"layer<i>": feature map} for each tapped layer."""

    def __init__(self, backbone: str, layers: Sequence[int], weights: str | Path = PRETRAINED) -> None:
        super().__init__()
        spec = get_backbone(backbone)
        self.taps = tuple(sorted(layers))
        if not self.taps or min(self.taps) < 0:
            raise ValueError(f"layers {layers}: need at least one layer index >= 0")
        self.normalise = PixelNormalisation(spec.mean, spec.std)
        self.layers = backbone_layers(backbone, max(self.taps) + 1, weights)

    def forward(self, pixels: Tensor) -> dict[str, Tensor]:
        return run_layers(self.layers, self.normalise(pixels), 0, self.taps)

    def prefix(self, pixels: Tensor, stop: int) -> Tensor:
        """Output of layer `stop - 1` (the shared part of PaSTe's teacher and student)."""
        x = self.normalise(pixels)
        for layer in self.layers[:stop]:
            x = layer(x)
        return x
