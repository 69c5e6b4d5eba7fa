"""PatchCore (Roth et al. 2022): a memory bank of normal patch features; distance to it is the anomaly score.

Everything runs with operators that ONNX Runtime and TensorRT 8.5 accept: nearest neighbours are a matrix product
followed by ReduceMin/ArgMin (no data-dependent TopK). The image score's re-weighting by the neighbourhood of the
nearest memory entry (paper, Eq. 7) uses each entry's k nearest neighbours in the bank, found once at fit time and
stored as a buffer, so inference needs only Gather.

Example:
    >>> model = PatchcoreModel("tf_efficientnet_lite0", layers=(5, 11), weights="random")
    >>> model.set_memory_bank(torch.randn(1000, model.embedding_dim), neighbours=9)
    >>> scores, maps = model.eval()(torch.zeros(1, 3, 256, 256))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor
from torch.nn import functional as F

from core.backbones.weights import PRETRAINED
from core.methods.common.frozen import FrozenFeatureModel
from core.methods.common.patch_features import locally_aware_patches


class PatchcoreModel(FrozenFeatureModel):
    """Frozen backbone + patch memory bank; eval forward returns (scores N, anomaly maps N x 1 x H x W)."""

    fitted_buffers = ("scoring_matrix", "memory_neighbours")  # the bank's size is only known once fitted

    def __init__(self, backbone: str, layers: Sequence[int], weights: str | Path = PRETRAINED, blur_sigma: float = 4.0):
        super().__init__(backbone, layers, weights, blur_sigma)
        self.embedding_dim = self.feature_channels
        # Fitted state travels with the weights (and into the exported graph) as buffers. The bank is stored once,
        # as the matrix that scores it: [-2 * bank^T ; |bank|^2], so that one MatMul of [patch, 1] against it gives
        # |m|^2 - 2 p.m for every entry m, which orders entries exactly as the distance does (|p|^2 is the same for
        # all). No full-size additions, clamps or second reduction run over the patches x entries matrix.
        self.register_buffer("scoring_matrix", torch.zeros(self.embedding_dim + 1, 0))
        self.register_buffer("memory_neighbours", torch.zeros(0, 1, dtype=torch.long))

    def embed(self, pixels: Tensor) -> Tensor:
        """Patch embeddings N x C x h x w: each tapped layer averaged over a 3x3 neighbourhood, upsampled to the
        finest tapped resolution and concatenated (the paper's locally aware patch features)."""
        return locally_aware_patches(self.extractor(pixels).values())

    @property
    def memory_bank(self) -> Tensor:
        """The bank's entries, M x C (recovered from the scoring matrix)."""
        return -0.5 * self.scoring_matrix[:-1].T

    def set_memory_bank(self, bank: Tensor, neighbours: int) -> None:
        """Store the bank and, for each entry, the indices of its `neighbours` nearest entries (itself first)."""
        neighbours = min(neighbours, bank.shape[0])
        squared = (bank * bank).sum(1)
        index = torch.empty(bank.shape[0], neighbours, dtype=torch.long)
        for start in range(0, bank.shape[0], 2048):  # in chunks: the full distance matrix may not fit in memory
            chunk = bank[start : start + 2048]
            distances = squared[start : start + 2048, None] - 2 * chunk @ bank.T + squared[None, :]
            index[start : start + 2048] = distances.topk(neighbours, dim=1, largest=False).indices
        self.scoring_matrix = torch.cat([-2.0 * bank.T, squared[None, :]]).contiguous()
        self.memory_neighbours = index

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        embedding = self.embed(pixels)
        batch, channels, height, width = embedding.shape
        patches = embedding.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
        ones = torch.ones_like(patches[..., :1])
        partial = torch.cat([patches, ones], dim=-1) @ self.scoring_matrix  # |m|^2 - 2 p.m, N x P x M
        nearest_index = partial.argmin(dim=-1)
        nearest_partial = partial.gather(-1, nearest_index[..., None]).squeeze(-1)
        patch_scores = (nearest_partial + (patches * patches).sum(-1)).clamp_min(0).sqrt()
        scores = self._reweighted_image_scores(patches, patch_scores, nearest_index)
        _, maps = self.smooth(patch_scores.reshape(batch, 1, height, width), pixels.shape[-2:])
        return scores, maps

    def _reweighted_image_scores(self, patches: Tensor, patch_scores: Tensor, nearest_index: Tensor) -> Tensor:
        # The most anomalous patch, its nearest memory entry m*, and m*'s neighbourhood in the bank: a patch whose
        # m* sits in a sparse region of the bank is less certain to be anomalous (paper, Eq. 7).
        worst = patch_scores.argmax(dim=1, keepdim=True)
        worst_score = patch_scores.gather(1, worst).squeeze(1)
        worst_patch = patches.gather(1, worst[..., None].expand(-1, -1, patches.shape[-1]))  # N x 1 x C
        nearest_entry = nearest_index.gather(1, worst).squeeze(1)
        neighbourhood = self.memory_neighbours[nearest_entry]  # N x k
        neighbour_features = -0.5 * self.scoring_matrix[:-1, neighbourhood].permute(1, 2, 0)  # N x k x C
        distances = (neighbour_features - worst_patch).pow(2).sum(-1).clamp_min(0).sqrt()
        weight = 1.0 - torch.softmax(distances, dim=1)[:, 0]
        return weight * worst_score
