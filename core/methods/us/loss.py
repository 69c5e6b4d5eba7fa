"""Uninformed Students' training loss: each student regresses the teacher's standardised descriptors."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor
from torch.nn import functional as F


def regression_loss(targets: dict[str, Tensor], predictions: Sequence[dict[str, Tensor]]) -> Tensor:
    """Mean squared error of every student's prediction to the standardised teacher descriptors, summed over
    students and scales (Bergmann et al., Eq. 4, one term per student and per scale)."""
    total = None
    for prediction in predictions:
        for key, target in targets.items():
            term = F.mse_loss(prediction[key], target)
            total = term if total is None else total + term
    return total
