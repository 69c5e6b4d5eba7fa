"""Uninformed Students (Bergmann et al., CVPR 2020), unified as Jena et al. (2024) use it.

A frozen teacher gives dense patch descriptors; an ensemble of students, each a network of its own from random
weights, learns to regress them on normal images. Where an image is anomalous the students both miss the teacher
(regression error: the distance of their mean prediction to the teacher's descriptor) and disagree with one another
(predictive variance: their spread). Both are standardised by their mean and std over the training images, summed,
and averaged over the tapped scales after upsampling (paper, Sec. 3.3 - 3.4).

The teacher is the backbone's own features at the tapped layers (frozen, as `FeatureExtractor` gives them), not a
patch network distilled from it: distilling one takes ImageNet-scale training, out of reach on two CPU cores, and the
backbone's features are the descriptors such a teacher would learn to imitate. Its descriptors are standardised per
channel with their mean and std over the training images before the students regress them (paper, Sec. 3.2). Each
student is the backbone's layers up to the deepest tap (as STFPM's student), so it has the teacher's receptive field
and output stride at every scale.

Example:
    >>> model = UninformedStudentsModel("tf_efficientnet_lite0", layers=(3, 9, 14), students=3, weights="random")
    >>> model.eval()
    >>> scores, maps = model(torch.zeros(1, 3, 256, 256))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from core.backbones.extractor import FeatureExtractor, backbone_layers, run_layers
from core.backbones.weights import PRETRAINED, RANDOM
from core.methods.common.smoothed_map import SmoothedMap, finest_grid, finest_stride, to_grid
from core.methods.common.frozen_parts import WithFrozenParts

PROBE_SIZE = 32  # pixels: enough to learn each tapped layer's channel count at build time


class ChannelStandardiser(nn.Module):
    """(x - mean) / std per channel, with the constants as buffers fitted on the training images."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, channels, 1, 1))
        self.register_buffer("inverse_std", torch.ones(1, channels, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) * self.inverse_std

    def set_statistics(self, mean: Tensor, std: Tensor) -> None:
        self.mean.copy_(mean.view_as(self.mean))
        self.inverse_std.copy_(1.0 / std.clamp_min(1e-6).view_as(self.inverse_std))


class UninformedStudentsModel(WithFrozenParts):
    """Teacher + student ensemble; eval-mode forward returns (scores N, anomaly maps N x 1 x H x W)."""

    frozen_parts = ("teacher",)

    def __init__(
        self,
        backbone: str,
        layers: Sequence[int],
        students: int = 3,
        weights: str | Path = PRETRAINED,
        blur_sigma: float = 4.0,
    ) -> None:
        super().__init__()
        if students < 2:
            raise ValueError(f"students {students}: the predictive variance needs at least 2")
        self.taps = tuple(sorted(layers))
        self.teacher = FeatureExtractor(backbone, self.taps, weights)
        self.teacher.requires_grad_(False)
        # Each student starts from its own random weights (timm's initialisation): their disagreement off the
        # normal data is what the variance term measures, so they must not share a starting point.
        self.students = nn.ModuleList(backbone_layers(backbone, max(self.taps) + 1, RANDOM) for _ in range(students))
        with torch.no_grad():
            probe = self.teacher.eval()(torch.zeros(1, 3, PROBE_SIZE, PROBE_SIZE))
        self.descriptor_norm = nn.ModuleDict({key: ChannelStandardiser(value.shape[1]) for key, value in probe.items()})
        # Per scale: mean and std of the regression error, then of the predictive variance, over training positions.
        self.register_buffer("score_stats", torch.tensor([[0.0, 1.0, 0.0, 1.0]]).repeat(len(self.taps), 1))
        self.smooth = SmoothedMap(blur_sigma, finest_stride(self.teacher))

    def frozen_features(self, pixels: Tensor) -> tuple[dict[str, Tensor]]:
        """The standardised teacher descriptors (their statistics are fitted before the students train, so they
        stay fixed while the students learn); training computes them once per image."""
        with torch.no_grad():
            return ({key: self.descriptor_norm[key](value) for key, value in self.teacher(pixels).items()},)

    def regress(
        self, pixels: Tensor, frozen: tuple[dict[str, Tensor]] | None = None
    ) -> tuple[dict[str, Tensor], list[dict[str, Tensor]]]:
        """The standardised teacher descriptors and every student's prediction of them, per tapped layer; `frozen`,
        where given, is `frozen_features(pixels)` computed earlier."""
        (targets,) = self.frozen_features(pixels) if frozen is None else frozen
        student_input = self.teacher.normalise(pixels)
        predictions = [run_layers(student, student_input, 0, self.taps) for student in self.students]
        return targets, predictions

    def error_and_variance(
        self, targets: dict[str, Tensor], predictions: Sequence[dict[str, Tensor]]
    ) -> list[tuple[Tensor, Tensor]]:
        """Per scale: the regression error ||mean prediction - target||^2 and the predictive variance (the mean over
        students of ||prediction - mean prediction||^2), each N x 1 x h x w (paper, Eq. 6 and 7)."""
        result = []
        for key, target in targets.items():
            stacked = torch.stack([prediction[key] for prediction in predictions])  # students x N x C x h x w
            mean = stacked.mean(dim=0)
            error = (mean - target).pow(2).sum(dim=1, keepdim=True)
            variance = (stacked - mean).pow(2).sum(dim=2).mean(dim=0).unsqueeze(1)
            result.append((error, variance))
        return result

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        targets, predictions = self.regress(pixels)
        grid = finest_grid(targets.values())
        anomaly_map = None
        for stats, (error, variance) in zip(self.score_stats, self.error_and_variance(targets, predictions)):
            # Standardising puts error and variance, and every scale, on one footing before they are added.
            score = (error - stats[0]) / stats[1] + (variance - stats[2]) / stats[3]
            score = to_grid(score, grid)
            anomaly_map = score if anomaly_map is None else anomaly_map + score
        return self.smooth(anomaly_map / len(self.taps), pixels.shape[-2:])
