"""Train the student of STFPM / PaSTe on normal images."""

from __future__ import annotations

from collections.abc import Generator

import torch

from core.jobs import CancelToken, Progress
from core.methods.common.gradient_fit import fit_by_gradient
from core.methods.config import ModelConfig
from core.methods.stfpm.loss import feature_matching_loss
from core.methods.stfpm.settings import StudentSettings
from core.methods.stfpm.torch_model import StudentTeacherModel


def fit_student(
    model: StudentTeacherModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken,
    categories: torch.Tensor | None = None,  # one student learns every category: unused
) -> Generator[Progress, None, None]:
    """SGD on the feature-matching loss, as in the STFPM paper (lr 0.4, momentum 0.9, weight decay 1e-4)."""
    settings: StudentSettings = config.settings
    optimiser = torch.optim.SGD(model.student.parameters(), lr=settings.learning_rate, momentum=0.9,
                                weight_decay=1e-4)
    yield from fit_by_gradient(model, optimiser, images,
                               lambda batch, frozen: feature_matching_loss(*model.features(batch, frozen)),
                               settings.epochs, settings.batch_size, config.seed, cancel,
                               frozen_features=model.frozen_features, final_lr_fraction=settings.final_lr)
