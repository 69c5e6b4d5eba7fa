"""CFA's soft-boundary loss (Lee et al. 2022, Eq. 3-5): attract the K nearest memory entries inside a hypersphere of
radius r, push the J next-nearest (hard negatives) beyond r^2 + alpha.

The model hands over the hinge arguments already (`CfaModel.hypersphere_terms`), so that QAT, which sees only the
tuple, needs no settings: attraction = D(phi, c_k) - r^2 and repulsion = r^2 - D(phi, c_j) - alpha, D the squared
Euclidean distance.
"""

from __future__ import annotations

from torch import Tensor

NU = 1e-3  # the paper's nu: the loss is scaled by 1/nu (as in the official code)


def coupled_hypersphere_loss(attraction: Tensor, repulsion: Tensor) -> Tensor:
    """(mean max(0, attraction) + mean max(0, repulsion)) / nu; with J = 0 (no hard negatives) only the first."""
    loss = attraction.clamp_min(0).mean()
    if repulsion.numel():  # a static shape: J is fixed per model
        loss = loss + repulsion.clamp_min(0).mean()
    return loss / NU
