"""The training loop shared by the methods that learn by gradient descent: shuffled mini-batches, one loss each.

A method brings its optimiser and its loss; the loop brings the seeded order, the cancel checks, the progress
records, the rule that a lone trailing image is skipped (batch norm statistics of one image are meaningless) and,
for a model with frozen parts, their outputs computed once for all epochs (`core.methods.common.frozen_cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch
from torch import Tensor, nn

from core.jobs import CancelToken, Progress
from core.methods.common.frozen_cache import FrozenCache, FrozenFeatures


def fit_by_gradient(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    images: Tensor,
    batch_loss: Callable[..., Tensor],
    epochs: int,
    batch_size: int,
    seed: int,
    cancel: CancelToken,
    frozen_features: Callable[[Tensor], FrozenFeatures] | None = None,
) -> Generator[Progress, None, None]:
    """Train `model` for `epochs` on N x 3 x S x S uint8 `images`.

    Without `frozen_features`, `batch_loss(float pixels)` gives the loss. With it, `frozen_features(float pixels)` is
    what the model's frozen parts make of a batch, computed once per image before the first epoch, and
    `batch_loss(float pixels, frozen)` gets the batch's share of it (None when it did not fit in memory: the model
    then computes it itself). Batches are converted to float as they are used, to keep memory low. The model ends
    in eval mode."""
    cache = None
    if frozen_features is not None:
        model.eval()
        cache = yield from FrozenCache.build(frozen_features, images, cancel)
    generator = torch.Generator().manual_seed(seed)
    total = epochs * max(1, -(-len(images) // batch_size))
    model.train()
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            cancel.raise_if_cancelled()
            indices = order[start : start + batch_size]
            if len(indices) < 2 and len(images) >= 2:
                continue
            batch = images[indices].float()
            if frozen_features is None:
                loss = batch_loss(batch)
            else:
                loss = batch_loss(batch, None if cache is None else cache.take(indices))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            yield Progress(step, total, f"epoch {epoch + 1}/{epochs}", {"loss": float(loss.detach())}, stage="train")
    model.eval()
