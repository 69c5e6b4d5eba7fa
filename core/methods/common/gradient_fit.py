"""The training loop shared by the methods that learn by gradient descent: one optimiser step per mini-batch.

A method brings its optimiser and its loss; the batches (seeded shuffle, lone trailing image skipped) come from
`core.methods.common.epochs`, and the loop adds the cancel checks and the progress records.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch
from torch import Tensor, nn

from core.jobs import CancelToken, Progress
from core.methods.common.epochs import training_batches, training_steps


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

    The model ends in eval mode."""
    total = training_steps(len(images), epochs, batch_size)
    model.train()
    for step, (epoch, batch) in enumerate(training_batches(images, epochs, batch_size, seed), start=1):
        cancel.raise_if_cancelled()
        loss = batch_loss(batch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        yield Progress(step, total, f"epoch {epoch + 1}/{epochs}", {"loss": float(loss.detach())}, stage="train")
    model.eval()
