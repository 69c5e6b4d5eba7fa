"""What a model's frozen parts make of each training image, computed once instead of once per epoch.

A teacher, an encoder or a feature extractor never changes during training and the images are not augmented, so its
output for an image is the same every epoch: recomputing it is a forward pass per image-epoch for nothing (STFPM's
teacher, PaSTe's shared layers, RD's encoder, US's teacher, CFA's extractor). The cache keeps those outputs in
memory when they fit; when they would not, training recomputes them per batch as before.

A model's `frozen_features(float pixels)` returns a tuple whose items are tensors, dicts of tensors or None, one row
per image; `FrozenCache.take(indices)` returns the same structure for those images.

Example:
    >>> cache = yield from FrozenCache.build(model.frozen_features, images, cancel)
    >>> frozen = cache.take(torch.tensor([3, 0, 7]))   # None: no cache, compute per batch
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import psutil
import torch
from torch import Tensor

from core.jobs import CancelToken, Progress

FrozenFeatures = tuple[Any, ...]  # items: Tensor, dict[str, Tensor] or None; tensors' first dimension = images
_TENSOR, _ABSENT = "tensor", "absent"

CACHE_BATCH = 16
# The cache may take this share of the memory available when training starts: the rest is for the training step,
# the optimiser and whatever else the machine runs.
MEMORY_SHARE = 0.3


class FrozenCache:
    """Frozen outputs of every training image, flattened into one tensor per leaf."""

    def __init__(self, leaves: list[Tensor], rebuild: Callable[[list[Tensor]], FrozenFeatures]) -> None:
        self._leaves = leaves
        self._rebuild = rebuild

    @property
    def nbytes(self) -> int:
        return sum(leaf.numel() * leaf.element_size() for leaf in self._leaves)

    def take(self, indices: Tensor) -> FrozenFeatures:
        return self._rebuild([leaf[indices] for leaf in self._leaves])

    @staticmethod
    def build(
        frozen_features: Callable[[Tensor], FrozenFeatures], images: Tensor, cancel: CancelToken,
        memory_share: float | None = None,
    ) -> Generator[Progress, None, "FrozenCache | None"]:
        """Run `frozen_features` over N x 3 x S x S uint8 `images` once; None when the outputs would need more than
        `memory_share` (default `MEMORY_SHARE`) of the available memory, judged from the first batch before the
        rest is computed."""
        memory_share = MEMORY_SHARE if memory_share is None else memory_share
        batches = -(-len(images) // CACHE_BATCH)
        leaves: list[list[Tensor]] = []
        rebuild = None
        with torch.no_grad():
            for number, start in enumerate(range(0, len(images), CACHE_BATCH), start=1):
                cancel.raise_if_cancelled()
                flat, rebuild = _flatten(frozen_features(images[start : start + CACHE_BATCH].float()))
                if number == 1:
                    per_image = sum(leaf[0].numel() * leaf.element_size() for leaf in flat)
                    if per_image * len(images) > memory_share * psutil.virtual_memory().available:
                        return None
                    leaves = [[] for _ in flat]
                for collected, leaf in zip(leaves, flat):
                    collected.append(leaf)
                yield Progress(number, batches, "frozen features, once for every epoch", stage="cache")
        if rebuild is None:
            return None
        return FrozenCache([torch.cat(parts) for parts in leaves], rebuild)


def _flatten(frozen: FrozenFeatures) -> tuple[list[Tensor], Callable[[list[Tensor]], FrozenFeatures]]:
    """The tensors of `frozen` in order, and a function that puts tensors of the same layout back together."""
    leaves: list[Tensor] = []
    layout: list[tuple[str, ...] | str] = []  # per item: its dict keys, TENSOR or ABSENT (None)
    for item in frozen:
        if isinstance(item, dict):
            layout.append(tuple(item))
            leaves += list(item.values())
        elif item is None:
            layout.append(_ABSENT)
        else:
            layout.append(_TENSOR)
            leaves.append(item)

    def rebuild(parts: list[Tensor]) -> FrozenFeatures:
        items: list[Any] = []
        position = 0
        for keys in layout:
            if keys == _ABSENT:
                items.append(None)
            elif keys == _TENSOR:
                items.append(parts[position])
                position += 1
            else:
                items.append(dict(zip(keys, parts[position : position + len(keys)])))
                position += len(keys)
        return tuple(items)

    return leaves, rebuild
