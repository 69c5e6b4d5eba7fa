"""Fit PaDiM's Gaussians: one streaming pass over the normal images, then one inversion per category and position."""

from __future__ import annotations

from collections.abc import Generator

import torch

from core.jobs import CancelToken, Progress
from core.methods.common.gaussian import GaussianStatistics
from core.methods.config import ModelConfig
from core.methods.padim.settings import PadimSettings
from core.methods.padim.torch_model import PadimModel

EMBED_BATCH = 16


def fit_gaussians(
    model: PadimModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken,
    categories: torch.Tensor | None = None,
) -> Generator[Progress, None, None]:
    """Mean and inverse covariance of the embeddings at every patch position over `images` (N x 3 x S x S uint8),
    per category (`categories`: N category indices; None: all one category).

    Only the running sums are kept (float64, categories x positions x d x d), so memory does not grow with the
    number of images.
    """
    statistics = yield from accumulate_statistics(model, images, category_labels(images, categories), cancel)
    yield from set_gaussians(model, statistics, config, cancel)


def category_labels(images: torch.Tensor, categories: torch.Tensor | None) -> torch.Tensor:
    """Each image's category index (all 0 when `categories` is None); ValueError on a length mismatch."""
    labels = torch.zeros(len(images), dtype=torch.long) if categories is None else categories.long()
    if labels.shape != (len(images),):
        raise ValueError(f"categories {tuple(labels.shape)} do not match {len(images)} images")
    return labels


def accumulate_statistics(
    model: PadimModel, images: torch.Tensor, labels: torch.Tensor, cancel: CancelToken,
) -> Generator[Progress, None, dict[int, GaussianStatistics]]:
    """The running sums of every category's embeddings, by category index, in one streaming pass."""
    model.eval()
    statistics: dict[int, GaussianStatistics] = {}
    with torch.no_grad():
        for start in range(0, len(images), EMBED_BATCH):
            cancel.raise_if_cancelled()
            patches = positions_first(model.embed(images[start : start + EMBED_BATCH].float()))
            batch_labels = labels[start : start + EMBED_BATCH]
            for label in batch_labels.unique().tolist():
                if label not in statistics:
                    statistics[label] = GaussianStatistics(patches.shape[0], patches.shape[2])
                statistics[label].add(patches[:, batch_labels == label])
            yield Progress(min(start + EMBED_BATCH, len(images)), len(images), "accumulating patch statistics",
                           stage="embed")
    if not statistics:
        raise ValueError("fit needs at least one image")
    return statistics


def positions_first(embedding: torch.Tensor) -> torch.Tensor:
    """N x d x h x w embeddings as P x N x d samples, the layout `GaussianStatistics.add` takes."""
    batch, channels = embedding.shape[:2]
    return embedding.reshape(batch, channels, -1).permute(2, 0, 1)


def set_gaussians(
    model: PadimModel, statistics: dict[int, GaussianStatistics], config: ModelConfig, cancel: CancelToken,
) -> Generator[Progress, None, None]:
    """Invert every category's covariances and store them in the model, in category order."""
    settings: PadimSettings = config.settings
    positions = next(iter(statistics.values())).sum.shape[0]
    yield Progress(0, 0, f"inverting {len(statistics)} x {positions} covariances", stage="invert")
    means, precisions = [], []
    for label in sorted(statistics):
        cancel.raise_if_cancelled()
        mean, precision = statistics[label].finish(settings.covariance_regularisation)
        means.append(mean)
        precisions.append(precision)
    model.set_statistics(torch.stack(means), torch.stack(precisions))
