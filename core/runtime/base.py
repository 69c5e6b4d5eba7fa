"""One interface for every inference backend: predict(images) -> (scores, anomaly maps)."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Runtime(Protocol):
    """A loaded model ready to score images. `predict` takes N x S x S x 3 uint8 RGB images already resized to
    `image_size` and returns scores (N,) and anomaly maps (N x S x S, float32)."""

    name: str
    image_size: int

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def to_network_input(images: np.ndarray) -> np.ndarray:
    """N x S x S x 3 uint8 -> N x 3 x S x S float32 pixels 0..255 (scaling happens inside the graph)."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
