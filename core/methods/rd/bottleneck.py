"""Reverse Distillation's one-class bottleneck embedding, OCBE (Deng & Li 2022, Sec. 3.3).

Multi-scale feature fusion (MFF): every tapped feature but the deepest is brought to the deepest tap's stride by
stride-2 3 x 3 conv-BN-ReLU steps whose widths grow geometrically to the deepest tap's channels (the paper's
256 -> 512 -> 1024 for WideResNet50), then all are concatenated with the deepest tap as it is. One-class embedding
(OCE): one ResNet bottleneck block maps the concatenation to a compact embedding of twice the deepest tap's channels
(WideResNet50: 3 x 1024 -> 2048). The embedding is small on purpose: the decoder can rebuild only what normal images
share, so anomalies do not pass through it.

The paper's OCE block has stride 2 because its deepest tap (WideResNet50's layer3) is at stride 16, which gives an
8 x 8 embedding at 256 px. Our default layer group already ends at stride 32 (EfficientNet-Lite0's layer 14), so
`embedding_stride` 1 keeps that same 8 x 8 embedding; 2 would halve it again to 4 x 4 (a setting, for deeper taps).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from core.methods.rd.blocks import ResidualBlock, conv_bn_relu
from core.methods.rd.shapes import TapShape, halvings


def _downsampling(tap: TapShape, deepest: TapShape) -> nn.Sequential:
    steps = halvings(tap.stride, deepest.stride)
    if steps == 0:
        return nn.Sequential()
    widths = [round(tap.channels * (deepest.channels / tap.channels) ** (step / steps)) for step in range(steps + 1)]
    return nn.Sequential(*(conv_bn_relu(widths[step], widths[step + 1], stride=2) for step in range(steps)))


class OneClassBottleneck(nn.Module):
    """MFF + OCE; forward takes the encoder's {key: feature} and returns the N x E x h x w embedding."""

    def __init__(self, taps: Sequence[TapShape], embedding_stride: int = 1) -> None:
        super().__init__()
        deepest = taps[-1]
        self.keys = tuple(tap.key for tap in taps)
        # An empty Sequential for the deepest tap (and any at its stride): passed on unchanged, as in the paper.
        self.fuse = nn.ModuleList(_downsampling(tap, deepest) for tap in taps)
        fused = sum(deepest.channels if len(branch) else tap.channels for tap, branch in zip(taps, self.fuse))
        self.embedding_channels = 2 * deepest.channels
        self.embedding_stride = deepest.stride * embedding_stride
        self.embed = ResidualBlock(fused, self.embedding_channels, stride=embedding_stride)

    def forward(self, features: dict[str, Tensor]) -> Tensor:
        fused = [branch(features[key]) for key, branch in zip(self.keys, self.fuse)]
        return self.embed(torch.cat(fused, dim=1))
