"""PaDiM fitted on every normal image, and each image scored by Gaussians fitted without it (k-fold).

PaDiM's statistics are sums, so fold f's Gaussians are the totals minus fold f's share (`GaussianStatistics.without`):
one more pass over the images (embedding each fold once, which also gives the embeddings it scores) and one
inversion per fold and category, not k fits. A unified model keeps Gaussians per category: an image of category c
in fold f is scored against every category's Gaussians with c's replaced by c-without-fold-f, the model it would
have met had it not been in the training set (the other categories' Gaussians never saw it).
"""

from __future__ import annotations

from collections.abc import Generator

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress
from core.methods.common.folds import assign_folds
from core.methods.common.gaussian import GaussianStatistics
from core.methods.config import ModelConfig
from core.methods.padim.fit import EMBED_BATCH, accumulate_statistics, category_labels, positions_first, set_gaussians
from core.methods.padim.settings import PadimSettings
from core.methods.padim.torch_model import PadimModel


def fit_gaussians_out_of_fold(
    model: PadimModel, images: Tensor, config: ModelConfig, cancel: CancelToken, categories: Tensor | None,
    folds: int,
) -> Generator[Progress, None, tuple[Tensor, Tensor]]:
    """Fit `model` on all `images` (as `fit_gaussians`) and return every image's score (N) and map (N x S x S)
    from Gaussians fitted without its fold."""
    settings: PadimSettings = config.settings
    labels = category_labels(images, categories)
    totals = yield from accumulate_statistics(model, images, labels, cancel)
    yield from set_gaussians(model, totals, config, cancel)
    slot = {label: index for index, label in enumerate(sorted(totals))}  # the category's index in the model
    fold_of = assign_folds(labels, folds)
    scores = torch.zeros(len(images))
    maps = torch.zeros(len(images), images.shape[-2], images.shape[-1])
    steps, done = len(totals) * folds, 0
    with torch.no_grad():
        for label, total in totals.items():
            for fold in range(folds):
                members = ((labels == label) & (fold_of == fold)).nonzero().ravel()
                done += 1
                if len(members) == 0:
                    continue
                yield Progress(done, steps, f"scoring fold {fold + 1} of {folds} of category {slot[label] + 1}",
                               stage="out-of-fold")
                embeddings = [model.embed(images[members[start : start + EMBED_BATCH]].float())
                              for start in range(0, len(members), EMBED_BATCH)]
                cancel.raise_if_cancelled()
                part = GaussianStatistics(embeddings[0].shape[2] * embeddings[0].shape[3], embeddings[0].shape[1])
                for embedding in embeddings:
                    part.add(positions_first(embedding))
                mean, precision = total.without(part).finish(settings.covariance_regularisation)
                means, precisions = model.mean.clone(), model.precision.clone()
                means[slot[label]], precisions[slot[label]] = mean, precision
                start = 0
                for embedding in embeddings:
                    index = members[start : start + len(embedding)]
                    scores[index], batch_maps = model.scores_from(embedding, images.shape[-2:], means, precisions)
                    maps[index] = batch_maps[:, 0]
                    start += len(embedding)
    return scores, maps
