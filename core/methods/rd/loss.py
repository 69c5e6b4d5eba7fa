"""Reverse Distillation's distance: 1 - cosine similarity over channels, per position (Deng & Li 2022, Eq. 1-2)."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def cosine_distance(encoder: Tensor, decoder: Tensor) -> Tensor:
    """N x 1 x h x w map of 1 - cos(encoder, decoder) over the channel axis (0 where they agree, up to 2)."""
    # Normalise-then-multiply rather than F.cosine_similarity: the same arithmetic, in operators every exporter keeps.
    return 1.0 - (F.normalize(encoder, dim=1) * F.normalize(decoder, dim=1)).sum(dim=1, keepdim=True)


def reverse_distillation_loss(encoder: dict[str, Tensor], decoder: dict[str, Tensor]) -> Tensor:
    """Sum over the tapped layers of the cosine distance averaged over positions and the batch (paper, Eq. 2)."""
    total = None
    for key, encoder_map in encoder.items():
        layer_loss = cosine_distance(encoder_map, decoder[key]).mean()
        total = layer_loss if total is None else total + layer_loss
    return total
