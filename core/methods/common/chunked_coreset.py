"""Greedy coreset of a stream of feature chunks, at a cost that grows linearly with the number of rows.

The exact greedy coreset (`GreedyCoresetSampler`) of ratio r over N rows costs r N^2 distance evaluations: every
one of its r N steps scans all N rows. Here each chunk (a few dozen images' patches) gets its own greedy coreset of
`oversample` x r of its rows, and the candidates of up to `merge_rows` rows at a time are merged by a second greedy
pass over their union, which keeps r of the rows they stand for and drops what several chunks picked twice (normal
images look alike, so neighbouring chunks cover the same patches). Both passes work on chunks of bounded size, so the
whole selection costs a constant per row. Chunks never need to be in memory together: they can be embedded on the
fly and dropped once their candidates are picked.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress, run_to_end
from core.methods.common.coreset import GreedyCoresetSampler, random_projection


def coreset_size(ratio: float, rows: int) -> int:
    """How many of `rows` a coreset of `ratio` keeps: ratio x rows rounded half up, at least one."""
    return max(1, math.floor(ratio * rows + 0.5))


@dataclass(frozen=True)
class ChunkCandidates:
    """One chunk's greedy picks: their features, their projection, and how many rows of the chunk they stand for."""

    features: Tensor
    projected: Tensor
    rows: int


class ChunkedCoresetSampler:
    """Keep `coreset_size(ratio, total rows)` distinct rows of a stream of chunks (each rows x C). `run` is a job
    generator returning the kept rows, M x C.

    Example:
        >>> sampler = ChunkedCoresetSampler(ratio=0.01, seed=0)
        >>> bank = run_to_end(sampler.run(torch.randn(32 * 1024, 152) for _ in range(10)))   # 3,277 x 152
    """

    # Four times the share per chunk: at twice it, unified PatchCore on bottle + magnetic tile lost 0.7 point of
    # magnetic-tile image AUROC against the exact greedy (0.888 vs 0.895); at four times it scores 0.902, and the
    # final merge still sees only 4 % of the rows.
    def __init__(self, ratio: float, oversample: float = 4.0, merge_rows: int = 16384, projection_dim: int = 128,
                 seed: int = 0, cancel: CancelToken | None = None) -> None:
        if not 0 < ratio <= 1 or oversample < 1 or merge_rows < 1:
            raise ValueError(f"ratio {ratio} must be in (0, 1], oversample {oversample} >= 1, merge_rows >= 1")
        self.ratio = ratio
        self.oversample = oversample
        self.merge_rows = merge_rows
        self.projection_dim = projection_dim
        self.seed = seed
        self.cancel = cancel or CancelToken()

    def run(self, chunks: Iterable[Tensor], chunk_count: int = 0) -> Generator[Progress, None, Tensor]:
        """`chunk_count`, when known, is only the progress total."""
        candidates = yield from self.candidates(chunks, chunk_count)
        return self.merged(candidates)

    def candidates(self, chunks: Iterable[Tensor], chunk_count: int = 0
                   ) -> Generator[Progress, None, list[ChunkCandidates]]:
        """Each chunk's own greedy candidates (`oversample` x ratio of its rows), in stream order. `merged` of all of
        them is `run`'s bank; `merged` of some of them is the bank those chunks alone would have given, which is
        what out-of-fold scoring needs (k banks for the price of k small merges, not k coresets)."""
        projection: Tensor | None = None
        picked_chunks: list[ChunkCandidates] = []
        self.cancel.raise_if_cancelled()
        for index, chunk in enumerate(chunks):
            if projection is None:
                dim = chunk.shape[1]
                generator = torch.Generator().manual_seed(self.seed)
                projection = (random_projection(dim, self.projection_dim, generator) if dim > self.projection_dim
                              else torch.eye(dim))
            projected = chunk.float() @ projection
            size = min(len(chunk), math.ceil(self.oversample * self.ratio * len(chunk)))
            picked = self._greedy(projected, size, seed=self.seed + 1 + index)
            picked_chunks.append(ChunkCandidates(chunk[picked], projected[picked], len(chunk)))
            yield Progress(index + 1, chunk_count, f"coreset of chunk {index + 1}", stage="coreset")
            self.cancel.raise_if_cancelled()  # before the next chunk is asked for (and embedded)
        if not picked_chunks:
            raise ValueError("no features to subsample")
        return picked_chunks

    def merged(self, candidates: Sequence[ChunkCandidates]) -> Tensor:
        """The kept rows, M x C, of the chunks `candidates` came from: merged `merge_rows` candidates at a time."""
        if not candidates:
            raise ValueError("no features to subsample")
        kept: list[Tensor] = []
        pending: list[ChunkCandidates] = []
        pending_rows = rows_seen = rows_merged = 0  # rows_merged: rows of the chunks already merged
        for chunk in candidates:
            pending.append(chunk)
            pending_rows += len(chunk.features)
            rows_seen += chunk.rows
            if pending_rows >= self.merge_rows:
                kept.append(self._merge(pending, rows_merged, rows_seen, final=False))
                pending, pending_rows, rows_merged = [], 0, rows_seen
        if pending:
            kept.append(self._merge(pending, rows_merged, rows_seen, final=True))
        return torch.cat(kept)

    def _merge(self, pending: list[ChunkCandidates], rows_before: int, rows_after: int, final: bool) -> Tensor:
        # Cumulative rounding: every merge keeps its share of the rows, and together they keep exactly
        # coreset_size(ratio, all rows). Rounding half up makes a share at most ceil(ratio x its rows), never more
        # than its candidates (each chunk gave at least that many).
        target = self._rounded(rows_after) - self._rounded(rows_before)
        if final:
            target = coreset_size(self.ratio, rows_after) - self._rounded(rows_before)
        features = torch.cat([chunk.features for chunk in pending])
        projected = torch.cat([chunk.projected for chunk in pending])
        return features[self._greedy(projected, target, seed=self.seed)]

    def _rounded(self, rows: int) -> int:
        return math.floor(self.ratio * rows + 0.5)

    def _greedy(self, projected: Tensor, size: int, seed: int) -> Tensor:
        # Its own progress is not forwarded: one chunk's selection takes a fraction of a second, the chunk is the
        # step. It still checks the cancel token between its steps.
        if size <= 0:
            return torch.zeros(0, dtype=torch.long)
        sampler = GreedyCoresetSampler(size, projection_dim=projected.shape[1], seed=seed, cancel=self.cancel)
        return run_to_end(sampler.run(projected))
