"""The statistics of a soak: a robust trend of a series of milliseconds, and memory growth from RSS samples.

"No trend" is defined so that a shared, noisy machine does not fail a healthy run and a creeping one still fails:

- The run after warm-up is cut into `TREND_BLOCKS` blocks of equal frame span and each block is summarised by its
  median, so single slow frames (a scheduler hiccup, another user's burst) do not count.
- The Theil-Sen slope of the block medians (the median of all pairwise slopes: robust to up to ~29 % wild blocks)
  gives the trend in ms per 1000 frames, with Sen's 95 % confidence interval.
- A series is **rising** only when all three agree: the interval lies above zero, the slope adds at least
  `RISE_LIMIT_PCT` (20 %) of the median over the run, and the last decile's median is at least that much above
  the first decile's. A statistically clear but small drift (block medians are correlated on a shared machine, so
  the interval is optimistic) or a burst of load in the last tenth alone is not a trend; a structure that grows
  every frame, and with it the work per frame, crosses 20 % well within a long run and keeps going. **Falling**
  is the mirror image, reported and never a failure.

Why 20 %: even CPU time, which does not wait for other users, moves with their load on a shared 2-core machine
(shared caches, frequency): measured here, CPU time per frame fell 16 % from the first to the last decile of one
headless run as the load average went from 7.5 to 5.3, and the window's UI-thread time per batch rose 10 % in a run
whose load rose, while the same UI fed 10,000 synthetic batches on its own stayed within 0.5 %.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RSS_GROWTH_LIMIT_PCT = 5.0
RISE_LIMIT_PCT = 20.0
TREND_BLOCKS = 100
_Z95 = 1.959964


@dataclass(frozen=True)
class Trend:
    """The trend of one series after warm-up; `direction` is "rising", "falling" or "none"."""

    count: int
    median_ms: float
    slope_ms_per_1000: float
    slope_low: float
    slope_high: float
    rise_pct: float
    first_decile_ms: float
    last_decile_ms: float
    decile_change_pct: float
    direction: str
    block_medians: tuple[float, ...] = ()  # the `TREND_BLOCKS` medians the slope is fitted to, for plotting


@dataclass(frozen=True)
class RssFigures:
    """Resident memory in MB at the start, at the end of warm-up, at the end, and its peak and slope after warm-up."""

    start_mb: float
    warm_mb: float
    end_mb: float
    peak_mb: float
    growth_pct: float
    slope_mb_per_1000: float

    @property
    def passed(self) -> bool:
        return self.growth_pct <= RSS_GROWTH_LIMIT_PCT


def theil_sen(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float]:
    """Median pairwise slope of y over x and Sen's 95 % confidence interval (low, high); zeros for < 2 points."""
    xs, ys = np.asarray(x, np.float64), np.asarray(y, np.float64)
    first, second = np.triu_indices(len(xs), k=1)
    dx = xs[second] - xs[first]
    keep = dx != 0
    slopes = np.sort((ys[second] - ys[first])[keep] / dx[keep])
    if slopes.size == 0:
        return 0.0, 0.0, 0.0
    n, pairs = len(xs), slopes.size
    spread = _Z95 * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)  # Kendall's S variance, ties ignored
    low = int(max(0, math.floor((pairs - spread) / 2) - 1))
    high = int(min(pairs - 1, math.ceil((pairs + spread) / 2)))
    return float(np.median(slopes)), float(slopes[low]), float(slopes[high])


def latency_trend(frames: Sequence[float], values: Sequence[float], blocks: int = TREND_BLOCKS,
                  rise_limit_pct: float = RISE_LIMIT_PCT) -> Trend:
    """Trend of `values` (ms) measured at `frames` (frame numbers, ascending); see the module docstring."""
    x, y = np.asarray(frames, np.float64), np.asarray(values, np.float64)
    if x.size == 0:
        return Trend(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "none")
    span = max(x[-1] - x[0], 1.0)
    block = np.minimum(((x - x[0]) / span * blocks).astype(int), blocks - 1)
    centres, medians = [], []
    for number in np.unique(block):
        chosen = block == number
        centres.append(float(np.median(x[chosen])))
        medians.append(float(np.median(y[chosen])))
    slope, low, high = theil_sen(centres, medians)
    median = float(np.median(y))
    rise_pct = 100 * slope * span / median if median > 0 else 0.0
    first = float(np.median(y[x <= x[0] + span / 10]))
    last = float(np.median(y[x >= x[-1] - span / 10]))
    change_pct = 100 * (last - first) / first if first > 0 else 0.0
    if low > 0 and rise_pct >= rise_limit_pct and change_pct >= rise_limit_pct:
        direction = "rising"
    elif high < 0 and rise_pct <= -rise_limit_pct and change_pct <= -rise_limit_pct:
        direction = "falling"
    else:
        direction = "none"
    return Trend(int(x.size), median, slope * 1000, low * 1000, high * 1000, rise_pct, first, last, change_pct,
                 direction, tuple(round(value, 3) for value in medians))


def rss_figures(start_mb: float, frames: Sequence[float], rss_mb: Sequence[float], warm_up: int) -> RssFigures:
    """Memory figures from RSS samples taken at `frames`; the warm-up value is the first sample at or after
    `warm_up`, the end value the last sample."""
    x, y = np.asarray(frames, np.float64), np.asarray(rss_mb, np.float64)
    after = x >= warm_up
    if not after.any():
        raise ValueError(f"no RSS sample at or after the warm-up (frame {warm_up})")
    warm, end = float(y[after][0]), float(y[-1])
    slope, _, _ = theil_sen(*thin(x[after], y[after]))
    return RssFigures(start_mb, warm, end, float(max(y.max(), start_mb)), 100 * (end - warm) / warm, slope * 1000)


def thin(x: np.ndarray, y: np.ndarray, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """At most `most` evenly spaced points: pairwise slopes of 1,000 samples would be half a million pairs."""
    step = max(1, math.ceil(len(x) / most))
    return x[::step], y[::step]
