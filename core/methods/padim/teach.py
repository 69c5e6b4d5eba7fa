"""Teach PaDiM a frame the operator marked good: the Gaussians of the frame's category are updated exactly.

A category's Gaussians after N images are turned back into their running sums (`GaussianStatistics.from_gaussians`:
the precision's inverse less fit's regularisation is the covariance), the frame's patch embeddings are added, and the
sums are finished again with the same regularisation: the result is what fitting on the N images plus the frame
gives, up to the float32 the model stores. It needs N, the images each category was fitted on (the manifest's
training summary keeps it). A frame of an unknown category is counted under the category whose means it is
nearest to, the graph's own choice.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

import torch
from torch import Tensor

from core.errors import InputError
from core.jobs import CancelToken, Progress
from core.methods.common.gaussian import GaussianStatistics
from core.methods.config import ModelConfig
from core.methods.padim.fit import EMBED_BATCH, positions_first
from core.methods.padim.settings import PadimSettings
from core.methods.padim.torch_model import PadimModel


def teach_gaussians(
    model: PadimModel, images: Tensor, categories: Tensor, images_per_category: Sequence[int] | None,
    config: ModelConfig, cancel: CancelToken,
) -> Generator[Progress, None, Tensor]:
    """Add `images` (N x 3 x S x S uint8) as normal samples of their categories to `model`'s Gaussians."""
    settings: PadimSettings = config.settings
    model.eval()
    mean, precision = model.mean, model.precision
    if mean.dim() == 2:  # saved before categories had their own Gaussians
        mean, precision = mean[None], precision[None]
    with torch.no_grad():
        embedding = torch.cat([model.embed(images[start : start + EMBED_BATCH].float())
                               for start in range(0, len(images), EMBED_BATCH)])
        yield Progress(1, 2, f"{len(images)} images embedded", stage="embed")
        categories = nearest_categories(embedding, mean, categories)
        means, precisions = mean.clone(), precision.clone()
        for label in categories.unique().tolist():
            cancel.raise_if_cancelled()
            count = _count(images_per_category, label)
            statistics = GaussianStatistics.from_gaussians(mean[label], precision[label], count,
                                                           settings.covariance_regularisation)
            statistics.add(positions_first(embedding[categories == label]))
            means[label], precisions[label] = statistics.finish(settings.covariance_regularisation)
        model.set_statistics(means, precisions)
        yield Progress(2, 2, f"Gaussians of {len(categories.unique())} categories updated", stage="statistics")
    return categories


def nearest_categories(embedding: Tensor, mean: Tensor, categories: Tensor) -> Tensor:
    """`categories` with every -1 (not known) replaced by the category whose per-position means are nearest (mean
    squared distance, as `mahalanobis_to_nearest` chooses)."""
    patches = embedding.reshape(embedding.shape[0], embedding.shape[1], -1).permute(0, 2, 1)  # N x P x d
    fit = (patches[None] - mean[:, None]).pow(2).sum(-1).mean(-1)  # K x N
    return torch.where(categories >= 0, categories, fit.argmin(0))


def _count(images_per_category: Sequence[int] | None, label: int) -> int:
    if images_per_category is None or label >= len(images_per_category):
        raise InputError("PaDiM's Gaussians can be updated only when the number of images each category was fitted "
                         "on is known: the manifest does not record it and the training data is not where it was; "
                         "train the model again with this version")
    return int(images_per_category[label])
