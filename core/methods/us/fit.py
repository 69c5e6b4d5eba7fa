"""Fit Uninformed Students on normal images: teacher statistics, then the students, then the score statistics.

1. the teacher's descriptors' per-channel mean and std over the training images (the students regress descriptors
   standardised with them, paper Sec. 3.2);
2. every student, with Adam on the summed regression loss (paper: Adam, weight decay 1e-5);
3. the mean and std of the regression error and of the predictive variance over all training positions, per scale
   (paper Sec. 3.4 takes them on validation images; here the held-out normal images choose the threshold, so the
   training images give them).
All three are kept as buffers in the model.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Sequence

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress
from core.methods.common.gradient_fit import fit_by_gradient
from core.methods.config import ModelConfig
from core.methods.us.loss import regression_loss
from core.methods.us.settings import UninformedStudentsSettings
from core.methods.us.torch_model import UninformedStudentsModel

STATISTICS_BATCH = 16


class RunningMoments:
    """Mean and std of values streamed in batches, per channel (dim 1), in float64 so large sums stay exact."""

    def __init__(self) -> None:
        self.count = 0
        self.total: Tensor | float = 0.0
        self.squares: Tensor | float = 0.0

    def add(self, values: Tensor) -> None:
        flat = values.transpose(0, 1).reshape(values.shape[1], -1).double()
        self.count += flat.shape[1]
        self.total = self.total + flat.sum(dim=1)
        self.squares = self.squares + flat.pow(2).sum(dim=1)

    def mean_std(self) -> tuple[Tensor, Tensor]:
        mean = self.total / self.count
        variance = (self.squares / self.count - mean.pow(2)).clamp_min(0)
        return mean.float(), variance.sqrt().float()


def _batches(images: Tensor) -> Iterator[Tensor]:
    for start in range(0, len(images), STATISTICS_BATCH):
        yield images[start : start + STATISTICS_BATCH].float()


def fit_students(
    model: UninformedStudentsModel, images: Tensor, config: ModelConfig, cancel: CancelToken,
    categories: Tensor | None = None,  # the students learn every category together: unused
) -> Generator[Progress, None, None]:
    """Fit `model` on `images` (N x 3 x S x S uint8); batches are converted to float as they are used."""
    yield from _teacher_statistics(model, images, cancel)
    yield from _train_students(model, images, config, cancel)
    yield from _score_statistics(model, images, cancel)


def _teacher_statistics(model: UninformedStudentsModel, images: Tensor, cancel: CancelToken) -> Generator[Progress, None, None]:
    model.eval()
    moments = {key: RunningMoments() for key in model.descriptor_norm}
    with torch.no_grad():
        for done, batch in enumerate(_batches(images), start=1):
            cancel.raise_if_cancelled()
            for key, value in model.teacher(batch).items():
                moments[key].add(value)
            yield Progress(done, -(-len(images) // STATISTICS_BATCH), "teacher descriptor statistics", stage="statistics")
        for key, moment in moments.items():
            model.descriptor_norm[key].set_statistics(*moment.mean_std())


def _train_students(
    model: UninformedStudentsModel, images: Tensor, config: ModelConfig, cancel: CancelToken,
    categories: Tensor | None = None,  # the students learn every category together: unused
) -> Generator[Progress, None, None]:
    settings: UninformedStudentsSettings = config.settings
    optimiser = torch.optim.Adam(model.students.parameters(), lr=settings.learning_rate, weight_decay=1e-5)
    yield from fit_by_gradient(model, optimiser, images,
                               lambda batch, frozen: regression_loss(*model.regress(batch, frozen)),
                               settings.epochs, settings.batch_size, config.seed, cancel,
                               frozen_features=model.frozen_features)


class ScoreMoments:
    """Per scale, the mean and std of the regression error and of the predictive variance (taps x 4), streamed over
    batches of `UninformedStudentsModel.error_and_variance` results."""

    def __init__(self, scales: int) -> None:
        self.errors = [RunningMoments() for _ in range(scales)]
        self.variances = [RunningMoments() for _ in range(scales)]

    def add(self, per_scale: Sequence[tuple[Tensor, Tensor]]) -> None:
        for index, (error, variance) in enumerate(per_scale):
            self.errors[index].add(error)
            self.variances[index].add(variance)

    def finish(self) -> Tensor:
        stats = torch.stack([torch.cat([*errors.mean_std(), *variances.mean_std()])
                             for errors, variances in zip(self.errors, self.variances)])
        stats[:, 1::2].clamp_(min=1e-6)  # a constant term (e.g. no spread at all) must not divide by zero
        return stats


def _score_statistics(model: UninformedStudentsModel, images: Tensor, cancel: CancelToken) -> Generator[Progress, None, None]:
    model.eval()
    moments = ScoreMoments(len(model.taps))
    with torch.no_grad():
        for done, batch in enumerate(_batches(images), start=1):
            cancel.raise_if_cancelled()
            moments.add(model.error_and_variance(*model.regress(batch)))
            yield Progress(done, -(-len(images) // STATISTICS_BATCH), "error and variance statistics", stage="statistics")
    model.score_stats.copy_(moments.finish())


def refit_score_statistics(model: UninformedStudentsModel, regressions: Iterable[tuple]) -> dict[str, Tensor]:
    """The score statistics again, from `regress` results (targets, predictions) of the training images that another
    pipeline computed: QAT's fine-tuned, fake-quantized graph (`Training.refit`). Its students' errors are not the
    FP32 students', so the statistics fitted on those would standardise them wrongly."""
    moments = ScoreMoments(len(model.taps))
    for targets, predictions in regressions:
        moments.add(model.error_and_variance(targets, predictions))
    return {"score_stats": moments.finish()}
