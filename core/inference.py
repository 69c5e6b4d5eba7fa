"""Batched PyTorch inference over arrays of images, shared by training (thresholds), evaluation and prediction."""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import torch
from torch import nn

from core.jobs import CancelToken, Progress


def to_pixels(images: np.ndarray) -> torch.Tensor:
    """N x H x W x 3 uint8 (as read) -> N x 3 x H x W uint8 tensor (the layout the networks take, as float)."""
    images = np.ascontiguousarray(images)
    if not images.flags.writeable:  # arrays that wrap PIL buffers are read-only; torch wants to own writable memory
        images = images.copy()
    return torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()


def predict_arrays(
    network: nn.Module, images: np.ndarray, batch_size: int = 16, cancel: CancelToken | None = None
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Scores (N,) and anomaly maps (N x H x W, float32) for N x H x W x 3 uint8 images; a job generator."""
    cancel = cancel or CancelToken()
    network.eval()
    scores, maps = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            cancel.raise_if_cancelled()
            batch = to_pixels(images[start : start + batch_size]).float()
            batch_scores, batch_maps = network(batch)
            scores.append(batch_scores.numpy())
            maps.append(batch_maps[:, 0].numpy())
            yield Progress(min(start + batch_size, len(images)), len(images), "scoring images", stage="predict")
    if not scores:
        return np.zeros(0, np.float32), np.zeros((0, 0, 0), np.float32)
    return np.concatenate(scores), np.concatenate(maps)


def predict_with(
    predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    images: np.ndarray,
    batch_size: int = 16,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Like `predict_arrays`, for any runtime's predict(images) -> (scores, maps) (ONNX Runtime, TensorRT...)."""
    cancel = cancel or CancelToken()
    scores, maps = [], []
    for start in range(0, len(images), batch_size):
        cancel.raise_if_cancelled()
        batch_scores, batch_maps = predict(images[start : start + batch_size])
        scores.append(batch_scores)
        maps.append(batch_maps)
        yield Progress(min(start + batch_size, len(images)), len(images), "scoring images", stage="predict")
    return np.concatenate(scores), np.concatenate(maps)
