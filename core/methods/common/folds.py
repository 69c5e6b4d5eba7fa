"""Which fold each training image belongs to, for out-of-fold scores (thresholds from every normal image).

Folds are dealt per category, in turn (image j of a category goes to fold j mod K), so every fold holds about 1 / K
of every category: a fold model of a unified method never loses a category, and a small category (35 images) loses
7 images to a fold, not all of them.

Example:
    >>> assign_folds(torch.tensor([0, 0, 0, 1, 1]), folds=2)
    tensor([0, 1, 0, 0, 1])
"""

from __future__ import annotations

import torch
from torch import Tensor

MIN_FOLDS = 2
MAX_FOLDS = 20


def assign_folds(categories: Tensor | None, folds: int, count: int | None = None) -> Tensor:
    """The fold (0..folds-1) of each image, dealt in turn within each category; `categories` None: one category of
    `count` images. ValueError for fewer than 2 folds."""
    if folds < MIN_FOLDS:
        raise ValueError(f"out-of-fold scores need at least {MIN_FOLDS} folds, got {folds}")
    if categories is None:
        return torch.arange(int(count or 0)) % folds
    labels = categories.long()
    assigned = torch.empty_like(labels)
    for label in labels.unique().tolist():
        where = (labels == label).nonzero().ravel()
        assigned[where] = torch.arange(len(where)) % folds
    return assigned
