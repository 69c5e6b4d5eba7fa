"""PaDiM (Defard et al. 2021): a Gaussian per patch position over a random subset of pre-trained channels; the
Mahalanobis distance to it is the anomaly map.

Unified over several categories, it keeps one set of Gaussians per category (K x P positions) and an image is scored
against the category it is nearest to: one Gaussian per position shared by all categories spreads its covariance
over all of them, and measured on bottle + magnetic tile it fell short of one-class PaDiM. "Nearest" is the mean
squared Euclidean distance to the category's per-position means (a nearest-centroid choice). Not the Mahalanobis
distance: a category with broad covariances (a varied texture) explains everything a little, and on bottle +
magnetic tile it won every bottle image (image AUROC 0.42). Nor that distance divided by each category's own
spread: it sent one defective bottle image to magnetic tile (image AUROC 0.979 instead of 0.995); the plain
distance put all 83 + 352 test images of the two categories with their own. The selection is in the graph (ReduceMin, Equal, a weighted sum: no ArgMax, no
data-dependent shapes), so one model serves every category, at K times the statistics' memory.

The distance is plain batched matrix algebra that ONNX Runtime and TensorRT 8.5 accept: the patches are laid out
position-major (P x N x d), one batched MatMul with the P x d x d inverse covariances, an elementwise product and a
ReduceSum give (x - mu)^T Sigma^-1 (x - mu) for every patch; no einsum, no data-dependent shapes. The channel subset
is a constant Gather. Only `extractor.layers` is a network: the statistics and the distance stay FP32.

Example:
    >>> model = PadimModel("tf_efficientnet_lite0", layers=(5, 11), weights="random", channels=100)
    >>> model.set_statistics(torch.zeros(1, 32 * 32, 100), torch.eye(100).repeat(1, 32 * 32, 1, 1))
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

    # Sized by the categories K and the feature map's positions P = h x w, known once fitted. Models saved before
    # categories had their own Gaussians hold P x d and P x d x d: `mahalanobis` reads them as K = 1.
    fitted_buffers = ("mean", "precision")

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
        self.register_buffer("mean", torch.zeros(1, 0, channels))
        self.register_buffer("precision", torch.zeros(1, 0, channels, channels))

    def embed(self, pixels: Tensor) -> Tensor:
        """Patch embeddings N x d x h x w: every tapped layer upsampled (nearest, as in the paper's reference code)
        to the finest tapped resolution, concatenated, and the random channel subset taken."""
        features = list(self.extractor(pixels).values())
        size = features[0].shape[-2:]
        resized = [f if f.shape[-2:] == size else F.interpolate(f, size=size, mode="nearest") for f in features]
        return torch.cat(resized, dim=1).index_select(1, self.channel_index)

    def set_statistics(self, mean: Tensor, precision: Tensor) -> None:
        """Store the per-category, per-position mean (K x P x d) and inverse covariance (K x P x d x d)."""
        categories, positions, channels = mean.shape
        if channels != len(self.channel_index) or precision.shape != (categories, positions, channels, channels):
            raise ValueError(f"statistics {tuple(mean.shape)} / {tuple(precision.shape)} do not fit "
                             f"{len(self.channel_index)} channels")
        self.mean = mean.float().contiguous()
        self.precision = precision.float().contiguous()


    @property
    def statistics_bytes(self) -> int:
        """Memory of the fitted statistics (mean and inverse covariance), in bytes."""
        return sum(buffer.numel() * buffer.element_size() for buffer in (self.mean, self.precision))

    def mahalanobis(self, embedding: Tensor) -> Tensor:
        """sqrt((x - mu)^T Sigma^-1 (x - mu)) at every position of N x d x h x w embeddings, against the Gaussians of
        the category that fits each image best: N x 1 x h x w."""
        return mahalanobis_to_nearest(embedding, self.mean, self.precision)

    def scores_from(self, embedding: Tensor, size: Sequence[int], mean: Tensor, precision: Tensor
                    ) -> tuple[Tensor, Tensor]:
        """(scores N, maps N x 1 x size) of embeddings against the given statistics (the model's own, or a fold's
        for out-of-fold scores: `core.methods.padim.out_of_fold`)."""
        return self.smooth(mahalanobis_to_nearest(embedding, mean, precision), size)

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        return self.scores_from(self.embed(pixels), pixels.shape[-2:], self.mean, self.precision)


def mahalanobis_to_nearest(embedding: Tensor, mean: Tensor, precision: Tensor) -> Tensor:
    """`PadimModel.mahalanobis` against statistics K x P x d (mean) and K x P x d x d (inverse covariance)."""
    if mean.dim() == 2:  # saved before categories had their own Gaussians: one category
        mean, precision = mean[None], precision[None]
    batch, channels, height, width = embedding.shape
    if height * width != mean.shape[1]:
        raise ValueError(f"the model was fitted on {mean.shape[1]} patch positions; these images give "
                         f"{height} x {width} = {height * width} (another image size?)")
    patches = embedding.reshape(batch, channels, height * width).permute(2, 0, 1)  # P x N x d
    delta = patches[None] - mean[:, :, None, :]  # K x P x N x d
    squared = ((delta @ precision) * delta).sum(dim=-1)  # K x P x N
    distances = squared.clamp_min(0).sqrt()  # the inverse is positive definite; clamp only rounding below 0
    if distances.shape[0] == 1:
        chosen = distances[0]
    else:
        fit = delta.pow(2).sum(dim=-1).mean(dim=1)  # K x N: squared distance to each category's means
        best = (fit == fit.amin(dim=0, keepdim=True)).to(distances.dtype)
        best = best / best.sum(dim=0, keepdim=True)  # an exact tie averages the tied categories
        chosen = (distances * best[:, None, :]).sum(dim=0)  # P x N
    return chosen.permute(1, 0).reshape(batch, 1, height, width)
