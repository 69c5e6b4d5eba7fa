"""Fit PaDiM's Gaussians: one streaming pass over the normal images, then one inversion per position."""

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
    model: PadimModel, images: torch.Tensor, config: ModelConfig, cancel: CancelToken
) -> Generator[Progress, None, None]:
    """Mean and inverse covariance of the embeddings at every patch position over `images` (N x 3 x S x S uint8).

    Only the running sums are kept (float64, positions x d x d), so memory does not grow with the number of images.
    """
    settings: PadimSettings = config.settings
    model.eval()
    statistics: GaussianStatistics | None = None
    with torch.no_grad():
        for start in range(0, len(images), EMBED_BATCH):
            cancel.raise_if_cancelled()
            embedding = model.embed(images[start : start + EMBED_BATCH].float())
            batch, channels = embedding.shape[:2]
            patches = embedding.reshape(batch, channels, -1).permute(2, 0, 1)  # P x N x d
            if statistics is None:
                statistics = GaussianStatistics(patches.shape[0], channels)
            statistics.add(patches)
            yield Progress(min(start + EMBED_BATCH, len(images)), len(images), "accumulating patch statistics",
                           stage="embed")
        assert statistics is not None, "fit needs at least one image"
        yield Progress(0, 0, f"inverting {statistics.sum.shape[0]} covariances", stage="invert")
        cancel.raise_if_cancelled()
        model.set_statistics(*statistics.finish(settings.covariance_regularisation))
