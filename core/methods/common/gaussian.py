"""A multivariate Gaussian per patch position, accumulated in one streaming pass (PaDiM's statistics).

Only the sum and the sum of outer products are kept per position, in float64, so fitting memory does not grow
with the number of images: positions x d x d x 8 bytes however many images are seen.

Example:
    >>> statistics = GaussianStatistics(positions=1024, dimension=100)
    >>> statistics.add(features)                    # P x N x d, any number of times
    >>> mean, precision = statistics.finish(0.01)   # P x d, P x d x d (inverse covariance), float32
"""

from __future__ import annotations

import torch
from torch import Tensor

INVERT_BLOCK = 256  # positions inverted at once


class GaussianStatistics:
    """Running sum and sum of outer products of d-dimensional samples at each of `positions` positions."""

    def __init__(self, positions: int, dimension: int) -> None:
        self.count = 0
        self.sum = torch.zeros(positions, dimension, dtype=torch.float64)
        self.outer = torch.zeros(positions, dimension, dimension, dtype=torch.float64)

    def add(self, samples: Tensor) -> None:
        """Samples P x N x d (N samples at each position)."""
        if samples.shape[0] != self.sum.shape[0] or samples.shape[2] != self.sum.shape[1]:
            raise ValueError(f"samples {tuple(samples.shape)} do not match {tuple(self.sum.shape)} positions x d")
        samples = samples.to(torch.float64)
        self.count += samples.shape[1]
        self.sum += samples.sum(dim=1)
        self.outer += samples.transpose(1, 2) @ samples  # batched over positions

    @classmethod
    def from_gaussians(cls, mean: Tensor, precision: Tensor, count: int, regularisation: float) -> GaussianStatistics:
        """The running sums that `finish(regularisation)` turned into `mean` (P x d) and `precision` (P x d x d)
        after `count` samples: the covariance is the precision's inverse less the regularisation, so adding samples
        and finishing again gives the Gaussians of all the samples, as fit would (up to the float32 the model keeps
        them in). Inverted in float64, a block of positions at a time."""
        if count < 2:
            raise ValueError(f"the Gaussians need the number of samples they were fitted on (at least 2), got {count}")
        statistics = cls(0, 0)
        statistics.count = count
        mean64 = mean.to(torch.float64)
        statistics.sum = count * mean64
        outer = torch.empty(precision.shape, dtype=torch.float64)
        identity = torch.eye(precision.shape[-1], dtype=torch.float64)
        for start in range(0, precision.shape[0], INVERT_BLOCK):
            block = slice(start, start + INVERT_BLOCK)
            covariance = torch.linalg.inv(precision[block].to(torch.float64)) - regularisation * identity
            outer[block] = (count - 1) * covariance + count * mean64[block, :, None] * mean64[block, None, :]
        statistics.outer = outer
        return statistics

    def without(self, part: GaussianStatistics) -> GaussianStatistics:
        """The statistics of these samples minus `part`'s (a subset of them): sums subtract, so a k-fold's Gaussian
        costs one pass over the fold, not over everything else."""
        if part.sum.shape != self.sum.shape or part.count > self.count:
            raise ValueError(f"{part.count} samples of {tuple(part.sum.shape)} are not part of {self.count} of "
                             f"{tuple(self.sum.shape)}")
        rest = GaussianStatistics(0, 0)
        rest.count = self.count - part.count
        rest.sum = self.sum - part.sum
        rest.outer = self.outer - part.outer
        return rest

    def covariance(self, regularisation: float, positions: slice = slice(None)) -> Tensor:
        """Unbiased covariance at `positions` plus `regularisation` x I (the PaDiM paper's 0.01 I), float64."""
        if self.count < 2:
            raise ValueError(f"a covariance needs at least 2 samples, got {self.count}")
        mean = self.sum[positions] / self.count
        covariance = (self.outer[positions] - self.count * mean[:, :, None] * mean[:, None, :]) / (self.count - 1)
        covariance = 0.5 * (covariance + covariance.transpose(1, 2))  # exactly symmetric despite rounding
        return covariance + regularisation * torch.eye(covariance.shape[-1], dtype=torch.float64)

    def finish(self, regularisation: float) -> tuple[Tensor, Tensor]:
        """(mean P x d, inverse covariance P x d x d), float32, the inverse computed in float64.

        Inverted a block of positions at a time, so the float64 temporaries stay a fraction of the sums' size."""
        positions = self.sum.shape[0]
        precision = torch.empty(self.outer.shape, dtype=torch.float32)
        for start in range(0, positions, INVERT_BLOCK):
            block = slice(start, start + INVERT_BLOCK)
            inverse = torch.linalg.inv(self.covariance(regularisation, block))
            precision[block] = (0.5 * (inverse + inverse.transpose(1, 2))).float()
        return (self.sum / self.count).float(), precision
