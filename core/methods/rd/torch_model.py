"""Reverse Distillation (Deng & Li, CVPR 2022): a frozen encoder, a one-class bottleneck and a student decoder.

The pre-trained encoder (teacher) gives multi-scale features; the bottleneck (OCBE) fuses them into one compact
embedding; the decoder (student) must rebuild the encoder's features at each tapped layer from that embedding
alone. Trained on normal images only, it rebuilds what is normal, so where the rebuilt and the encoder's features
disagree (1 - cosine similarity, per position) the image is anomalous. Unlike STFPM the student never sees the
image, only its embedding, which is what keeps it from reproducing anomalies too.

Example:
    >>> model = ReverseDistillationModel("tf_efficientnet_lite0", layers=(3, 9, 14), weights="random").eval()
    >>> scores, maps = model(torch.zeros(1, 3, 256, 256))   # (1,), (1, 1, 256, 256)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.backbones.extractor import FeatureExtractor
from core.backbones.weights import PRETRAINED
from core.methods.common.smoothed_map import SmoothedMap, finest_grid, finest_stride, to_grid
from core.methods.common.frozen_parts import WithFrozenParts
from core.methods.rd.bottleneck import OneClassBottleneck
from core.methods.rd.decoder import MirrorDecoder
from core.methods.rd.loss import cosine_distance
from core.methods.rd.shapes import probe_taps


class ReverseDistillationModel(WithFrozenParts):
    """Encoder -> bottleneck -> decoder; eval-mode forward returns (scores N, anomaly maps N x 1 x H x W)."""

    frozen_parts = ("encoder",)

    def __init__(
        self,
        backbone: str,
        layers: Sequence[int],
        weights: str | Path = PRETRAINED,
        embedding_stride: int = 1,
        blur_sigma: float = 4.0,
    ) -> None:
        super().__init__()
        self.encoder = FeatureExtractor(backbone, layers, weights)
        self.encoder.requires_grad_(False)
        self.taps = probe_taps(self.encoder)
        self.bottleneck = OneClassBottleneck(self.taps, embedding_stride)
        self.decoder = MirrorDecoder(self.taps, self.bottleneck.embedding_channels, self.bottleneck.embedding_stride)
        self.smooth = SmoothedMap(blur_sigma, finest_stride(self.encoder))

    def frozen_features(self, pixels: Tensor) -> tuple[dict[str, Tensor]]:
        """The frozen encoder's features at the tapped layers; training computes them once per image."""
        with torch.no_grad():
            return (self.encoder(pixels),)

    def features(
        self, pixels: Tensor, frozen: tuple[dict[str, Tensor]] | None = None
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The encoder's features at the tapped layers and the decoder's reconstruction of them; `frozen`, where
        given, is `frozen_features(pixels)` computed earlier."""
        (encoder,) = self.frozen_features(pixels) if frozen is None else frozen
        # Python ints: the exporters record the (fixed) map sizes as constants, not as Shape arithmetic.
        sizes = {key: (int(value.shape[-2]), int(value.shape[-1])) for key, value in encoder.items()}
        decoder = self.decoder(self.bottleneck(encoder), sizes)
        return encoder, decoder

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        encoder, decoder = self.features(pixels)
        grid = finest_grid(encoder.values())
        anomaly_map = None
        for key, encoder_map in encoder.items():
            distance = to_grid(cosine_distance(encoder_map, decoder[key]), grid)
            # The sum over scales, as in the paper: a defect one scale sees is enough.
            anomaly_map = distance if anomaly_map is None else anomaly_map + distance
        return self.smooth(anomaly_map, pixels.shape[-2:])
