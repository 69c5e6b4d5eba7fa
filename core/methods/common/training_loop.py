"""The minibatch loop every trained method runs: shuffled epochs, one optimiser step per batch, a Progress each."""

from __future__ import annotations

from collections.abc import Callable, Generator

import torch

from core.jobs import CancelToken, Progress


def train_minibatches(optimiser: torch.optim.Optimizer, loss_of: Callable[[torch.Tensor], torch.Tensor],
                      images: torch.Tensor, epochs: int, batch_size: int, seed: int, cancel: CancelToken,
                      ) -> Generator[Progress, None, None]:
    """`epochs` passes over `images` (N x 3 x S x S uint8) in an order seeded by `seed`; each batch is converted to
    float as it is used (to keep memory low), `loss_of(batch)` is minimised by one `optimiser` step."""
    generator = torch.Generator().manual_seed(seed)
    batches_per_epoch = max(1, -(-len(images) // batch_size))
    total = epochs * batches_per_epoch
    step = 0
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            cancel.raise_if_cancelled()
            loss = loss_of(images[order[start : start + batch_size]].float())
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            step += 1
            yield Progress(step, total, f"epoch {epoch + 1}/{epochs}", {"loss": float(loss.detach())}, stage="train")
