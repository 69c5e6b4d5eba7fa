"""PaDiM (Defard et al. 2021): a Gaussian per patch position over a random subset of pre-trained channels; the
Mahalanobis distance to it is the anomaly map.

The distance is plain batched matrix algebra that ONNX Runtime and TensorRT 8.5 accept: the patches are laid out
position-major (P x N x d), one batched MatMul with the P x d x d inverse covariances, an elementwise product and a
ReduceSum give (x - mu)^T Sigma^-1 (x - mu) for every patch; no einsum, no data-dependent shapes. The channel subset
is a constant Gather. Only `extractor.layers` is a network: the statistics and the distance stay FP32.

Example:
    >>> model = PadimModel("tf_efficientnet_lite0", layers=(5, 11), weights="random", channels=100)
    >>> model.set_statistics(torch.zeros(32 * 32, 100), torch.eye(100).repeat(32 * 32, 1, 1))
    >>> scores, maps = model.eval()(torch.zeros(1, 3, 256, 256))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from core.backbones.weights import PRETRAINED
from core.errors import InputError
from core.methods.common.frozen import FrozenFeatureModel


class PadimModel(FrozenFeatureModel):
    """Frozen backbone + per-position Gaussians; eval forward returns (scores N, anomaly maps N x 1 x H x W)."""

    fitted_buffers = ("mean", "precision")  # sized by the feature map's positions P = h x w, known once fitted

    def __init__(self, backbone: str, layers: Sequence[int], weights: str | Path = PRETRAINED, channels: int = 100,
                 seed: int = 0, blur_sigma: float = 4.0) -> None:
        super().__init__(backbone, layers, weights, blur_sigma)
        available = self.feature_channels
        if channels > available:
            raise InputError(f"channels {channels}: layers {tuple(layers)} of {backbone} give only {available} "
                             f"channels; choose at most {available}")
        # The random subset is fixed by the seed and saved, so a loaded model uses the channels it was fitted on.
        generator = torch.Generator().manual_seed(seed)
        chosen = torch.randperm(available, generator=generator)[:channels].sort().values
        self.register_buffer("channel_index", chosen)
        self.register_buffer("mean", torch.zeros(0, channels))
        self.register_buffer("precision", torch.zeros(0, channels, channels))

    def embed(self, pixels: Tensor) -> Tensor:
        """Patch embeddings N x d x h x w: every tapped layer upsampled (nearest, as in the paper's reference code)
        to the finest tapped resolution, concatenated, and the random channel subset taken."""
        features = list(self.extractor(pixels).values())
        size = features[0].shape[-2:]
        resized = [f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="nearest") for f in features]
        return torch.cat(resized, dim=1).index_select(1, self.channel_index)

    def set_statistics(self, mean: Tensor, precision: Tensor) -> None:
        """Store the per-position mean (P x d) and inverse covariance (P x d x d)."""
        positions, channels = mean.shape
        if channels != len(self.channel_index) or precision.shape != (positions, channels, channels):
            raise ValueError(f"statistics {tuple(mean.shape)} / {tuple(precision.shape)} do not fit "
                             f"{len(self.channel_index)} channels")
        self.mean = mean.float().contiguous()
        self.precision = precision.float().contiguous()

    @property
    def statistics_bytes(self) -> int:
        """Memory of the fitted statistics (mean and inverse covariance), in bytes."""
        return sum(buffer.numel() * buffer.element_size() for buffer in (self.mean, self.precision))

    def mahalanobis(self, embedding: Tensor) -> Tensor:
        """sqrt((x - mu)^T Sigma^-1 (x - mu)) at every position of N x d x h x w embeddings: N x 1 x h x w."""
        batch, channels, height, width = embedding.shape
        if height * width != self.mean.shape[0]:
            raise ValueError(f"the model was fitted on {self.mean.shape[0]} patch positions; these images give "
                             f"{height} x {width} = {height * width} (another image size?)")
        patches = embedding.reshape(batch, channels, height * width).permute(2, 0, 1)  # P x N x d
        delta = patches - self.mean[:, None, :]
        squared = ((delta @ self.precision) * delta).sum(dim=-1)  # P x N
        distances = squared.clamp_min(0).sqrt()  # the inverse is positive definite; clamp only rounding below 0
        return distances.permute(1, 0).reshape(batch, 1, height, width)

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        distances = self.mahalanobis(self.embed(pixels))
        maps = F.interpolate(distances, size=pixels.shape[-2:], mode="bilinear", align_corners=False)
        maps = self.blur(maps)
        return maps.amax(dim=(1, 2, 3)), maps
