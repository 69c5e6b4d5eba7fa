"""The training loop shared by the methods that learn by gradient descent: shuffled mini-batches, one loss each.

A method brings its optimiser and its loss; the loop brings the seeded order, the cancel checks, the progress
records and the rule that a lone trailing image is skipped (batch norm statistics of one image are meaningless).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch
from torch import Tensor, nn

from core.jobs import CancelToken, Progress


def fit_by_gradient(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    images: Tensor,
    batch_loss: Callable[[Tensor], Tensor],
    epochs: int,
    batch_size: int,
    seed: int,
    cancel: CancelToken,
) -> Generator[Progress, None, None]:
    """Train `model` for `epochs` on N x 3 x S x S uint8 `images`; `batch_loss(float pixels)` gives the loss.

    Batches are converted to float as they are used, to keep memory low. The model ends in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    total = epochs * max(1, -(-len(images) // batch_size))
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            cancel.raise_if_cancelled()
            batch = images[order[start : start + batch_size]].float()
            if len(batch) < 2 and len(images) >= 2:
                continue
            loss = batch_loss(batch)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            yield Progress(step, total, f"epoch {epoch + 1}/{epochs}", {"loss": float(loss.detach())}, stage="train")
    model.eval()
