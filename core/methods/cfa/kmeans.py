"""K-means (Lloyd's algorithm, k-means++ seeding) in torch, for CFA's memory compression (gamma_c > 1)."""

from __future__ import annotations

import torch
from torch import Tensor


class KMeans:
    """`run(points)` returns `clusters` centroids of an M x C matrix, reproducibly for a seed.

    Example:
        >>> centroids = KMeans(clusters=256, seed=0).run(torch.randn(4096, 64))   # 256 x 64
    """

    def __init__(self, clusters: int, iterations: int = 100, seed: int = 0) -> None:
        self.clusters = clusters
        self.iterations = iterations
        self.seed = seed

    def run(self, points: Tensor) -> Tensor:
        if self.clusters >= len(points):
            return points.clone()
        centroids = self._seed_centroids(points)
        for _ in range(self.iterations):
            assignment = torch.cdist(points, centroids).argmin(dim=1)
            sums = torch.zeros_like(centroids).index_add_(0, assignment, points)
            counts = torch.bincount(assignment, minlength=self.clusters).to(points.dtype)[:, None]
            # An emptied cluster keeps its old centroid rather than collapsing to the origin.
            updated = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
            if torch.allclose(updated, centroids):
                break
            centroids = updated
        return centroids

    def _seed_centroids(self, points: Tensor) -> Tensor:
        # k-means++: each new centroid drawn with probability proportional to its squared distance to the chosen.
        generator = torch.Generator().manual_seed(self.seed)
        chosen = [int(torch.randint(len(points), (1,), generator=generator))]
        nearest = (points - points[chosen[0]]).pow(2).sum(1)
        for _ in range(self.clusters - 1):
            index = int(torch.multinomial(nearest.clamp_min(1e-12), 1, generator=generator))
            chosen.append(index)
            nearest = torch.minimum(nearest, (points - points[index]).pow(2).sum(1))
        return points[chosen].clone()
