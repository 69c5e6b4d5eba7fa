"""Train the student of STFPM / PaSTe on normal images."""

from __future__ import annotations

from collections.abc import Generator

import torch

from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.methods.stfpm.loss import feature_matching_loss
from core.methods.stfpm.settings import StudentSettings
from core.methods.stfpm.torch_model import StudentTeacherModel


def fit_student(
    model: StudentTeacherModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken
) -> Generator[Progress, None, None]:
    """SGD on the feature-matching loss, as in the STFPM paper (lr 0.4, momentum 0.9, weight decay 1e-4).

    `images` is N x 3 x S x S uint8; batches are converted to float as they are used, to keep memory low.
    """
    settings: StudentSettings = config.settings
    generator = torch.Generator().manual_seed(config.seed)
    optimiser = torch.optim.SGD(model.student.parameters(), lr=settings.learning_rate, momentum=0.9,
                                weight_decay=1e-4)
    batches_per_epoch = max(1, -(-len(images) // settings.batch_size))
    total = settings.epochs * batches_per_epoch
    model.train()
    step = 0
    for epoch in range(settings.epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), settings.batch_size):
            cancel.raise_if_cancelled()
            batch = images[order[start : start + settings.batch_size]].float()
            if len(batch) < 2 and len(images) >= 2:
                continue  # a lone image makes batch norm statistics meaningless
            teacher, student = model.features(batch)
            loss = feature_matching_loss(teacher, student)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            yield Progress(step, total, f"epoch {epoch + 1}/{settings.epochs}", {"loss": float(loss.detach())}, stage="train")
    model.eval()
