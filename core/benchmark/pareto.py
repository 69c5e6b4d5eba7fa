"""The Pareto front of a benchmark: the cells no other cell beats on accuracy and on every cost at once.

"Which model for my parts and my device": a cell off the front has another that is at least as accurate and at
most as costly on every measure, and strictly better on one, so it is never the right choice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.benchmark.values import is_done, value


def pareto_front(records: Iterable[Mapping[str, Any]], accuracy: str = "pixel_f1_max",
                 costs: Sequence[str] = ("latency_fp32", "memory_mb")) -> set[str]:
    """Names of the done cells not dominated on (higher `accuracy`, lower each of `costs`).

    Cells that failed or lack any of the values are not ranked: they are neither on the front nor push another
    off it. Cells with equal values do not dominate each other, so ties are all on the front.

    Example:
        >>> pareto_front([{"name": "a", "status": "done", "metrics": {"mean": {"pixel_f1_max": 0.5}},
        ...                "resources": {"memory_mb": 2.0, "latency_ms": {"fp32": 3.0}}}])
        {'a'}
    """
    points: list[tuple[str, float, tuple[float, ...]]] = []
    for record in records:
        if not is_done(record):
            continue
        score = value(record, accuracy)
        spent = tuple(value(record, cost) for cost in costs)
        if score is None or any(cost is None for cost in spent):
            continue
        points.append((str(record["name"]), score, spent))  # type: ignore[arg-type]
    return {name for name, score, spent in points
            if not any(_dominates(other_score, other_spent, score, spent) for _, other_score, other_spent in points)}


def _dominates(score: float, spent: tuple[float, ...], other_score: float, other_spent: tuple[float, ...]) -> bool:
    """True when (score, spent) is no worse than the other on every axis and better on one."""
    no_worse = score >= other_score and all(mine <= theirs for mine, theirs in zip(spent, other_spent))
    better = score > other_score or any(mine < theirs for mine, theirs in zip(spent, other_spent))
    return no_worse and better
