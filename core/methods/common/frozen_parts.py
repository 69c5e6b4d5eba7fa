"""A model that trains some parts on top of pre-trained ones it must not change.

The pre-trained parts (a teacher, an encoder, a feature extractor) get no gradients, but `model.train()` would still
switch their batch norms to batch statistics, and their running statistics would drift with every training batch.
"""

from __future__ import annotations

from torch import nn


class WithFrozenParts(nn.Module):
    """`train()` leaves the submodules named in `frozen_parts` in eval mode."""

    frozen_parts: tuple[str, ...] = ()

    def train(self, mode: bool = True) -> "WithFrozenParts":
        super().train(mode)
        for name in self.frozen_parts:
            self.get_submodule(name).eval()
        return self
