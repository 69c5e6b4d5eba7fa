"""CFA (Lee et al. 2022): coupled-hypersphere-based feature adaptation for target-oriented anomaly localisation.

A frozen backbone gives locally aware patch features; a trainable CoordConv descriptor adapts them so that each
normal patch falls within a small hypersphere around its K nearest entries of a memory bank of target-oriented
features (built from the training data before training, then fixed). At inference the anomaly score of a patch is
its distance to the nearest entry, weighted by the softmin over its K nearest (paper, Eq. 6).

Nearest neighbours are a matrix product followed by TopK with a constant K (K + J, fixed by the settings), which
TensorRT 8.5 takes; no shape depends on the data.

Example:
    >>> model = CfaModel("tf_efficientnet_lite0", layers=(3, 9, 14), weights="random")
    >>> model.set_memory_bank(torch.randn(4096, model.descriptor_dim))
    >>> scores, maps = model.eval()(torch.zeros(1, 3, 256, 256))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from core.backbones.extractor import FeatureExtractor
from core.backbones.weights import PRETRAINED
from core.errors import InputError
from core.methods.cfa.descriptor import CoordConvDescriptor
from core.methods.common.smoothed_map import SmoothedMap
from core.methods.common.frozen_parts import WithFrozenParts
from core.methods.common.patch_features import locally_aware_patches


class CfaModel(WithFrozenParts):
    """Frozen backbone + trainable patch descriptor + memory bank; eval forward returns (scores N, maps N x 1 x H x W)."""

    frozen_parts = ("extractor",)

    def __init__(self, backbone: str, layers: Sequence[int], weights: str | Path = PRETRAINED, gamma_d: int = 1,
                 neighbours: int = 3, hard_negatives: int = 3, radius: float = 1e-5, margin: float = 0.1,
                 blur_sigma: float = 4.0) -> None:
        super().__init__()
        self.extractor = FeatureExtractor(backbone, layers, weights)
        self.extractor.requires_grad_(False)
        channels, self.patch_stride = self._probe()
        self.descriptor_dim = max(1, channels // gamma_d)
        self.descriptor = CoordConvDescriptor(channels, self.descriptor_dim)
        self.neighbours = neighbours
        self.hard_negatives = hard_negatives
        self.radius = radius
        self.margin = margin
        self.smooth = SmoothedMap(blur_sigma, self.patch_stride)
        # The bank is stored as the matrix that scores it, [-2 * bank^T ; |bank|^2] ((C + 1) x M), as PatchCore does:
        # one MatMul of [f, 1] against it gives |c|^2 - 2 f.c for every entry c, which orders entries as the distance
        # does; |f|^2 is added to the K + J kept values only. No elementwise pass runs over the patches x entries
        # matrix, which at 64 x 64 patches and as many entries is most of the cost otherwise.
        self.register_buffer("scoring_matrix", torch.zeros(self.descriptor_dim + 1, 0))

    def _probe(self) -> tuple[int, int]:
        """Channels of the concatenated patch features, and the finest tapped layer's stride (the patch grid's)."""
        with torch.no_grad():
            features = list(self.extractor(torch.zeros(1, 3, 64, 64)).values())
        return sum(feature.shape[1] for feature in features), 64 // features[0].shape[-1]

    def frozen_features(self, pixels: Tensor) -> tuple[Tensor]:
        """The frozen extractor's locally aware patch features, N x C x h x w; training computes them once per
        image."""
        with torch.no_grad():
            return (locally_aware_patches(self.extractor(pixels).values()),)

    def target_features(self, pixels: Tensor, frozen: tuple[Tensor] | None = None) -> Tensor:
        """The descriptor's target-oriented features, N x C x h x w; `frozen`, where given, is
        `frozen_features(pixels)` computed earlier."""
        (patches,) = self.frozen_features(pixels) if frozen is None else frozen
        return self.descriptor(patches)

    def set_memory_bank(self, bank: Tensor) -> None:
        """Store M x C memory entries; M must allow the K + J nearest that training and scoring look up."""
        needed = self.neighbours + self.hard_negatives
        if bank.shape[0] < needed:
            raise InputError(f"memory bank of {bank.shape[0]} entries: K + J = {needed} nearest entries are looked "
                             f"up, lower gamma_c, neighbours or hard_negatives")
        self.scoring_matrix = torch.cat([-2.0 * bank.T, (bank * bank).sum(1)[None, :]]).contiguous()

    @property
    def memory_bank(self) -> Tensor:
        """The bank's entries, M x C (recovered from the scoring matrix)."""
        return -0.5 * self.scoring_matrix[:-1].T

    def hypersphere_terms(self, pixels: Tensor, frozen: tuple[Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The loss's hinge arguments per patch: D(phi, c_k) - r^2 for the K nearest entries (N x P x K) and
        r^2 - D(phi, c_j) - alpha for the J after them (N x P x J), D the squared distance."""
        features = self.target_features(pixels, frozen).flatten(2).transpose(1, 2)  # N x P x C
        nearest = self._nearest_squared_distances(features)
        radius_squared = self.radius**2
        attraction = nearest[..., : self.neighbours] - radius_squared
        repulsion = radius_squared - nearest[..., self.neighbours :] - self.margin
        return attraction, repulsion

    def _nearest_squared_distances(self, features: Tensor) -> Tensor:
        """|f|^2 + |c|^2 - 2 f.c to the K + J nearest entries, ascending (TopK with a constant K)."""
        ones = torch.ones_like(features[..., :1])
        partial = torch.cat([features, ones], dim=-1) @ self.scoring_matrix  # |c|^2 - 2 f.c, N x P x M
        count = self.neighbours + self.hard_negatives
        nearest = partial.topk(count, dim=-1, largest=False).values
        return nearest + (features * features).sum(-1, keepdim=True)

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        attraction, _ = self.hypersphere_terms(pixels)
        distances = (attraction + self.radius**2).clamp_min(0).sqrt()  # back to distances of the K nearest
        # Paper, Eq. 6: the nearest distance, weighted by how much the softmin over the K nearest favours it.
        patch_scores = torch.softmax(-distances, dim=-1)[..., 0] * distances[..., 0]
        height, width = (-(-int(side) // self.patch_stride) for side in pixels.shape[-2:])  # "same" padding
        return self.smooth(patch_scores.reshape(-1, 1, height, width), pixels.shape[-2:])

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # noqa: ANN001 - torch's signature
        # The bank's size is only known once fitted: take the saved shape before the copy.
        key = prefix + "scoring_matrix"
        if key in state_dict:
            self.scoring_matrix = torch.empty_like(state_dict[key])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
