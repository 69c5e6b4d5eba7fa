"""Greedy k-center coreset subsampling (PatchCore, Roth et al. 2022, Alg. 1).

Distances are computed in a random low-dimensional projection, as in the paper, which makes selection several times
faster with almost the same coverage. Each step is one matrix-vector product and two passes over a vector: the scan
reads the projected matrix once per selected entry, so its cost is size x rows (see `ChunkedCoresetSampler` for a
selection whose cost grows linearly with the rows).
"""

from __future__ import annotations

from collections.abc import Generator

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress


def random_projection(dim: int, projection_dim: int, generator: torch.Generator) -> Tensor:
    """A dim x projection_dim Gaussian matrix scaled to keep distances on average (Johnson-Lindenstrauss)."""
    return torch.randn(dim, projection_dim, generator=generator) / projection_dim**0.5


class GreedyCoresetSampler:
    """Pick `size` distinct rows of a feature matrix that cover it best (max-min distance). `run` is a job generator
    returning the selected row indices, in the order they were picked.

    Example:
        >>> sampler = GreedyCoresetSampler(size=100, seed=0)
        >>> indices = run_to_end(sampler.run(torch.randn(5000, 64)))
    """

    def __init__(self, size: int, projection_dim: int = 128, seed: int = 0, cancel: CancelToken | None = None) -> None:
        self.size = size
        self.projection_dim = projection_dim
        self.seed = seed
        self.cancel = cancel or CancelToken()

    def run(self, features: Tensor) -> Generator[Progress, None, Tensor]:
        count = features.shape[0]
        if self.size >= count:
            return torch.arange(count)
        generator = torch.Generator().manual_seed(self.seed)
        projected = features.float()
        if features.shape[1] > self.projection_dim:
            projected = projected @ random_projection(features.shape[1], self.projection_dim, generator)
        # One addmv per step gives the full squared distance to the new centre c: rows [p, 1] against [-2c, |c|^2],
        # added to |p|^2. No temporaries of the matrix's length beyond the one output buffer.
        augmented = torch.cat([projected, torch.ones(count, 1)], dim=1)
        squared_norms = (projected * projected).sum(dim=1)
        distances = torch.empty(count)
        nearest = torch.full((count,), float("inf"))
        selected = torch.empty(self.size, dtype=torch.long)
        selected[0] = torch.randint(count, (1,), generator=generator)
        report_every = max(1, self.size // 100)
        for position in range(1, self.size):
            centre = projected[selected[position - 1]]
            torch.addmv(squared_norms, augmented, torch.cat([-2.0 * centre, centre.dot(centre)[None]]), out=distances)
            torch.minimum(nearest, distances, out=nearest)
            # A picked row never wins again, even when every row is already covered (duplicates in the data).
            nearest[selected[position - 1]] = -float("inf")
            selected[position] = torch.argmax(nearest)
            if position % report_every == 0:
                self.cancel.raise_if_cancelled()
                yield Progress(position, self.size, "coreset subsampling", stage="coreset")
        return selected
