"""STFPM's training loss: half the squared distance between L2-normalised teacher and student features."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def feature_matching_loss(teacher: dict[str, Tensor], student: dict[str, Tensor]) -> Tensor:
    """Sum over layers of the per-position loss 0.5 * ||t/|t| - s/|s|||^2, averaged over positions and the batch."""
    total = None
    for key, teacher_map in teacher.items():
        difference = F.normalize(teacher_map, dim=1) - F.normalize(student[key], dim=1)
        layer_loss = 0.5 * difference.pow(2).sum(dim=1).mean()
        total = layer_loss if total is None else total + layer_loss
    return total
