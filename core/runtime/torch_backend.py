"""PyTorch backend: runs the model's own nn.Module; always available, the reference for parity checks."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.runtime.base import to_network_input


class TorchRuntime:
    """Score images with the PyTorch network of a loaded model directory."""

    name = "pytorch"

    def __init__(self, network: nn.Module, image_size: int) -> None:
        self.network = network.eval()
        self.image_size = image_size

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            scores, maps = self.network(torch.from_numpy(to_network_input(images)))
        return scores.numpy(), maps[:, 0].numpy()
