"""Train Reverse Distillation's bottleneck and decoder on normal images (the encoder stays frozen)."""

from __future__ import annotations

import itertools
from collections.abc import Generator

import torch

from core.jobs import CancelToken, Progress
from core.methods.common.gradient_fit import fit_by_gradient
from core.methods.config import ModelConfig
from core.methods.rd.loss import reverse_distillation_loss
from core.methods.rd.settings import ReverseDistillationSettings
from core.methods.rd.torch_model import ReverseDistillationModel


def fit_reverse_distillation(
    model: ReverseDistillationModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken,
    categories: torch.Tensor | None = None,  # one decoder learns every category: unused
) -> Generator[Progress, None, None]:
    """Adam on the multi-scale cosine loss, as in the paper (lr 0.005, betas 0.5 / 0.999)."""
    settings: ReverseDistillationSettings = config.settings
    parameters = itertools.chain(model.bottleneck.parameters(), model.decoder.parameters())
    optimiser = torch.optim.Adam(parameters, lr=settings.learning_rate, betas=(0.5, 0.999))
    yield from fit_by_gradient(model, optimiser, images,
                               lambda batch, frozen: reverse_distillation_loss(*model.features(batch, frozen)),
                               settings.epochs, settings.batch_size, config.seed, cancel,
                               frozen_features=model.frozen_features)
