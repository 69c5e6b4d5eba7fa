"""STFPM (Wang et al. 2021) and, with a shared prefix, PaSTe (Barusco et al. 2024).

A frozen ImageNet teacher and a student of the same architecture see the same image; the student learns to match
the teacher's normalised features on normal images only, so where they disagree the image is anomalous.

With `shared_prefix = k > 0` this is PaSTe: the student has no layers of its own before layer k and takes the
teacher's layer k-1 output as its input. The shared layers are computed once, stored once, and never trained, which
cuts training memory and inference MACs (paper, Sec. 3.2).

Example:
    >>> model = StudentTeacherModel("tf_efficientnet_lite0", layers=(8, 11, 14), shared_prefix=8, weights="random")
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


class StudentTeacherModel(WithFrozenParts):
    """Teacher/student feature pyramid matching; eval-mode forward returns (scores N, anomaly maps N x 1 x H x W)."""

    frozen_parts = ("teacher",)

    def __init__(
        self,
        backbone: str,
        layers: Sequence[int],
        shared_prefix: int = 0,
        weights: str | Path = PRETRAINED,
        blur_sigma: float = 4.0,
    ) -> None:
        super().__init__()
        self.taps = tuple(sorted(layers))
        if not 0 <= shared_prefix <= self.taps[0]:
            raise ValueError(f"shared prefix {shared_prefix} must end at or before the first tapped layer {self.taps[0]}")
        self.shared_prefix = shared_prefix
        self.teacher = FeatureExtractor(backbone, self.taps, weights)
        self.teacher.requires_grad_(False)
        # The student starts from random weights (as in STFPM), with timm's own initialisation.
        student_layers = backbone_layers(backbone, max(self.taps) + 1, RANDOM)
        self.student = nn.ModuleList(list(student_layers)[shared_prefix:])
        self.smooth = SmoothedMap(blur_sigma, finest_stride(self.teacher))

    def frozen_features(self, pixels: Tensor) -> tuple[dict[str, Tensor], Tensor | None]:
        """What the frozen teacher makes of `pixels`: its tapped features and, for PaSTe, the shared layers' output
        the student starts from (None for STFPM). Training computes it once per image (`FrozenCache`)."""
        with torch.no_grad():
            if not self.shared_prefix:
                return self.teacher(pixels), None
            shared = self.teacher.prefix(pixels, self.shared_prefix)
            return self._teacher_from(shared), shared

    def features(
        self, pixels: Tensor, frozen: tuple[dict[str, Tensor], Tensor | None] | None = None
    ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Teacher and student features for the tapped layers; `frozen`, where given, is `frozen_features(pixels)`
        computed earlier."""
        teacher, shared = self.frozen_features(pixels) if frozen is None else frozen
        student_input = self.teacher.normalise(pixels) if shared is None else shared
        student = run_layers(self.student, student_input, self.shared_prefix, self.taps)
        return teacher, student

    def _teacher_from(self, shared: Tensor) -> dict[str, Tensor]:
        return run_layers(self.teacher.layers[self.shared_prefix :], shared, self.shared_prefix, self.taps)

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        teacher, student = self.features(pixels)
        grid = finest_grid(teacher.values())
        anomaly_map = None
        for key, teacher_map in teacher.items():
            distance = 0.5 * (F.normalize(teacher_map, dim=1) - F.normalize(student[key], dim=1)).pow(2).sum(1, keepdim=True)
            distance = to_grid(distance, grid)
            # The product across layers (as in STFPM) keeps only what every scale agrees is anomalous.
            anomaly_map = distance if anomaly_map is None else anomaly_map * distance
        return self.smooth(anomaly_map, pixels.shape[-2:])
