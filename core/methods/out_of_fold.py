"""Fit a method on every normal image and score each image with a model that never saw it (out-of-fold scores).

Thresholds chosen on scores of images the model was fitted on are optimistic (a memory bank holds their own
patches); a held-out 10 % is honest but small (5 images of a 53-image category cannot place a threshold). Out of
fold, every normal image gives one honest score. A method whose spec declares `fit_out_of_fold` does it at about the
cost of one fit; any other method is fitted `folds` more times, once without each fold, which is what
`--threshold-folds K` buys for the methods that train.

Example:
    >>> scores, maps = run_to_end(fit_out_of_fold(spec, config, build(), build, images, categories, folds=10))
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch
from torch import Tensor, nn

from core.jobs import CancelToken, Progress
from core.methods.common.folds import assign_folds
from core.methods.config import ModelConfig
from core.methods.spec import MethodSpec

SCORE_BATCH = 16
STAGE = "out-of-fold"


def fit_out_of_fold(
    spec: MethodSpec, config: ModelConfig, model: nn.Module, build: Callable[[], nn.Module], images: Tensor,
    categories: Tensor | None, folds: int, cancel: CancelToken | None = None,
) -> Generator[Progress, None, tuple[Tensor, Tensor]]:
    """Fit `model` (unfitted) on all `images` and return every image's out-of-fold score N and map N x S x S.
    `build()` makes another unfitted model, for a fold."""
    cancel = cancel or CancelToken()
    if spec.fit_out_of_fold is not None:
        return (yield from spec.fit_out_of_fold(model, images, config, cancel, categories, folds))
    # The final model first, so that it is the very model training without folds gives (same random state).
    yield from spec.fit(model, images, config, cancel, categories)
    fold_of = assign_folds(categories, folds, len(images))
    scores = torch.zeros(len(images))
    maps = torch.zeros(len(images), images.shape[-2], images.shape[-1])
    for fold in range(folds):
        members = (fold_of == fold).nonzero().ravel()
        rest = (fold_of != fold).nonzero().ravel()
        if len(members) == 0:
            continue
        fold_model = build()
        label = f"fold {fold + 1} of {folds} ({len(rest)} images)"
        fitting = spec.fit(fold_model, images[rest], config, cancel, None if categories is None else categories[rest])
        for record in fitting:  # the fold's own loss is not the model's: reported as progress only
            yield Progress(fold, folds, f"{label}: {record.message}", stage=STAGE)
        fold_model.eval()
        with torch.inference_mode():
            for start in range(0, len(members), SCORE_BATCH):
                cancel.raise_if_cancelled()
                index = members[start : start + SCORE_BATCH]
                batch_scores, batch_maps = fold_model(images[index].float())
                scores[index], maps[index] = batch_scores, batch_maps[:, 0]
    yield Progress(folds, folds, "out-of-fold scores done", stage=STAGE)
    return scores, maps
