"""Mini-batches of a training run: each epoch a fresh shuffle, seeded, the same for every method that trains.

Example:
    >>> for epoch, batch in training_batches(images, epochs=2, batch_size=8, seed=0):
    ...     loss = ...   # batch is float, N x 3 x S x S
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


def training_steps(count: int, epochs: int, batch_size: int) -> int:
    """How many batches `training_batches` announces for `count` images (a skipped lone image included)."""
    return epochs * max(1, -(-count // batch_size))


def training_batches(images: Tensor, epochs: int, batch_size: int, seed: int) -> Iterator[tuple[int, Tensor]]:
    """(epoch index, float batch) over `images` (N x 3 x S x S uint8), converted batch by batch to keep memory low."""
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            batch = images[order[start : start + batch_size]]
            if len(batch) < 2 and len(images) >= 2:
                continue  # a lone image makes batch norm statistics meaningless
            yield epoch, batch.float()
