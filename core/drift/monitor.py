"""A rolling window of the last N frames' statistics and scores, judged against the training reference every K
frames. Feeding a frame costs its statistics (~0.1 ms at 256 px) and a row copy; a judgement (a few bincounts over
N values per statistic, ~0.2 ms at N = 200) runs on every K-th frame only.

A unified model's categories can differ a lot (a dark part and a bright one): the window is compared with the mix
of the categories it holds, each category's reference weighted by its share of the window's frames. Frames whose
category is unknown (a camera on a line shows one product at a time) are taken for the one category whose
reference the first full judgement finds closest, kept for the run (`assumed`), so that a line of bright parts is
not judged against the dark ones too.

Example:
    >>> monitor = DriftMonitor(reference, window=200, every=10)
    >>> for result in results:
    ...     state = monitor.add_result(result)     # the frame's statistics; a judgement every 10th frame
    ...     if state is not None and state.headline != last.headline: print(state.summary())
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from core.drift.psi import ALARM, LEVELS, MIN_REFERENCE, OK, bin_edges, level_of, psi, shares
from core.drift.reference import DriftReference
from core.drift.statistics import IMAGE_STATISTICS, STATISTICS, frame_statistics, shift_matters
from core.sources.live import FrameResult

DEFAULT_WINDOW = 200
DEFAULT_EVERY = 10


@dataclass(frozen=True)
class DriftState:
    """One judgement: PSI per statistic (None where the reference is too small to judge), its level (ok unless the
    median also moved by more than the statistic's tolerance: `core.drift.statistics.shift_matters`) and how far
    the window's median is from the reference's."""

    psi: Mapping[str, float | None]
    levels: Mapping[str, str]
    frames: int
    frame_index: int
    shift: Mapping[str, float] = field(default_factory=dict)  # the newest frames' median less the reference's
    assumed: str = ""  # the category frames of unknown category were taken for, when the model has several

    @property
    def level(self) -> str:
        """The worst level of any statistic."""
        return max(self.levels.values(), key=LEVELS.index, default=OK)

    @property
    def drifted(self) -> list[str]:
        return [name for name in STATISTICS if self.levels.get(name, OK) != OK]

    @property
    def headline(self) -> tuple[str, tuple[str, ...]]:
        """What a change is said for: the overall level and which statistics are at alarm (a statistic wavering
        between ok and warn while another is at alarm is not news)."""
        return self.level, tuple(name for name in STATISTICS if self.levels.get(name) == ALARM)

    def summary(self) -> str:
        """`drift ALARM at frame 312: PSI brightness 0.41 (+9.2) alarm, contrast 0.02 (-0.3), sharpness 0.03 (+4),
        score n/a (last 200 frames)`: PSI and the median's shift."""
        parts = []
        for name in STATISTICS:
            value = self.psi.get(name)
            text = f"{name} {'n/a' if value is None else f'{value:.2f} ({self.shift[name]:+.3g})'}"
            parts.append(text if self.levels[name] == OK else f"{text} {self.levels[name]}")
        against = f", as {self.assumed}" if self.assumed else ""
        return (f"drift {self.level.upper()} at frame {self.frame_index}: PSI {', '.join(parts)} "
                f"(last {self.frames} frames{against})")


class DriftMonitor:
    """Keeps the last `window` frames and judges them every `every` frames once `min_frames` are in.

    `reference` may be None and set later (the window builds it on a thread of its own): frames are kept meanwhile.
    `state` is the latest judgement (None before the first); reading it from another thread is safe, it is
    replaced, never changed.
    """

    def __init__(self, reference: DriftReference | None, window: int = DEFAULT_WINDOW, every: int = DEFAULT_EVERY,
                 min_frames: int | None = None) -> None:
        if window < 2 or every < 1:
            raise ValueError(f"drift window must be at least 2 frames and judged every 1 or more, got {window}, "
                             f"{every}")
        self.reference = reference
        self.window, self.every = window, every
        self.min_frames = min(window, min_frames if min_frames is not None else max(20, window // 2))
        self._rows: deque[np.ndarray] = deque(maxlen=window)
        self._categories: deque[str] = deque(maxlen=window)
        self._added = 0
        self.assumed: str | None = None  # the category frames of unknown category are taken for
        self.state: DriftState | None = None
        self._cache: dict[tuple[frozenset[str], str], Any] = {}
        self._cached_for: DriftReference | None = None

    def add(self, pixels: np.ndarray, score: float, category: str = "", index: int = 0) -> DriftState | None:
        """Take one model-sized frame (H x W x 3 RGB uint8) and its score; the new state when this frame was judged."""
        row = np.empty(len(STATISTICS), np.float64)
        row[:-1] = frame_statistics(pixels)
        row[-1] = score
        self._rows.append(row)
        self._categories.append(category)
        self._added += 1
        if self.reference is None or self._added % self.every or len(self._rows) < self.min_frames:
            return None
        self.state = self.judge(index or self._added)
        return self.state

    def add_result(self, result: FrameResult) -> DriftState | None:
        """`add` for a live result (a device's own verdict, with no model input, is skipped)."""
        if result.model_input is None:
            return None
        return self.add(result.model_input, result.score, result.category, result.index)

    def judge(self, index: int = 0) -> DriftState:
        """Compare the window, as it is, with the reference."""
        reference = self.reference
        assert reference is not None, "judge needs a reference"
        table = np.array(self._rows)
        known = set(reference.values)
        if "" in self._categories and len(known) > 1 and self.assumed is None and len(table) >= self.min_frames:
            self.assumed = self._closest_category(reference, table)
        weights = Counter(self.assumed if category == "" and self.assumed else category
                          for category in self._categories)
        values: dict[str, float | None] = {}
        shifts: dict[str, float] = {}
        matters: dict[str, bool] = {}
        # The shift is read on the newest quarter of the window: the whole window's median lags a ramp by half a
        # window, while PSI over the whole window (steadier) has long seen the change.
        recent = min(len(table), max(10, self.window // 4))
        for column, name in enumerate(STATISTICS):
            binned = self._binned(reference, frozenset(weights), name)
            if binned is None:
                values[name] = None
                continue
            edges, by_category, medians, count = binned
            total = sum(weights[category] for category in by_category)
            expected = sum(weights[category] * part for category, part in by_category.items()) / total
            values[name] = psi(shares(table[:, column], edges), expected, len(table), count)
            median = sum(weights[category] * medians[category] for category in by_category) / total
            shifts[name] = float(np.median(table[-recent:, column]) - median)
            matters[name] = shift_matters(name, median + shifts[name], median)
        before = self.state.levels if self.state is not None else {}
        levels = {name: level_of(value, before.get(name, OK)) if matters.get(name) else OK
                  for name, value in values.items()}
        return DriftState(values, levels, len(table), index, shifts, self.assumed or "")

    def _closest_category(self, reference: DriftReference, table: np.ndarray) -> str:
        """The category whose image statistics the window's frames are least far from (summed PSI)."""
        def distance(category: str) -> float:
            total = 0.0
            for column, name in enumerate(IMAGE_STATISTICS):
                binned = self._binned(reference, frozenset([category]), name)
                if binned is not None:
                    edges, by_category, _, count = binned
                    total += psi(shares(table[:, column], edges), by_category[category], len(table), count)
            return total
        return min(sorted(reference.values), key=distance)

    def _binned(self, reference: DriftReference, categories: frozenset[str],
                statistic: str) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float], int] | None:
        """Bin edges over the reference of these categories and each one's shares (cached: the reference is fixed,
        and a line shows the same categories for hours); None when there are too few reference values."""
        if reference is not self._cached_for:
            self._cache.clear()
            self._cached_for = reference
        key = (categories, statistic)
        if key not in self._cache:
            parts = {category: reference.of(category, statistic) for category in categories}
            parts = {category: part for category, part in parts.items() if len(part)}
            pooled = np.concatenate(list(parts.values()) or [np.zeros(0)])
            if len(pooled) < MIN_REFERENCE:
                self._cache[key] = None
            else:
                edges = bin_edges(pooled, self.window)
                self._cache[key] = (edges, {category: shares(part, edges) for category, part in parts.items()},
                                    {category: float(np.median(part)) for category, part in parts.items()},
                                    len(pooled))
        return self._cache[key]

def every_for(window: int) -> int:
    """How often to judge a window of this size: every 10 frames, more often for a small window."""
    return max(1, min(DEFAULT_EVERY, window // 10))


def is_alarm(state: DriftState | None) -> bool:
    return state is not None and state.level == ALARM
