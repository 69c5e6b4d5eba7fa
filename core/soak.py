"""Soak statistics: over a long live run, does the process's memory grow and does latency creep up?

The targets (issue 9): resident memory (RSS) grows at most `RSS_GROWTH_LIMIT_PCT` from the end of warm-up to the
end of the run, and latency shows no trend. A `SoakRecorder` is fed by whoever drives the run (the headless
`bench-live --frames`, the scripted window run `python -m app.soak`) and turns what it saw into a `SoakReport`.

"No trend" is defined so that a shared, noisy machine does not fail a healthy run and a creeping one still fails:

- The run after warm-up is cut into `TREND_BLOCKS` blocks of equal frame span and each block is summarised by its
  median, so single slow frames (a scheduler hiccup, another user's burst) do not count.
- The Theil-Sen slope of the block medians (the median of all pairwise slopes: robust to up to ~29 % wild blocks)
  gives the trend in ms per 1000 frames, with Sen's 95 % confidence interval.
- Latency is **rising** only when all three agree: the interval lies above zero, the slope adds at least
  `LATENCY_RISE_LIMIT_PCT` of the median latency over the run, and the last decile's median is at least that much
  above the first decile's. A statistically clear but tiny drift (block medians are correlated on a shared machine,
  so the interval is optimistic) or a burst of load in the last tenth alone does not fail the run; a leak that
  slows every frame does. Falling latency is reported and not a failure.

Example:
    >>> recorder = SoakRecorder(frames=10_000, warm_up=500)
    >>> recorder.start()
    >>> for result in results:                                 # doctest: +SKIP
    ...     recorder.add(LATENCY, result.index, result.timings.total_ms)
    ...     recorder.sample_rss(result.index)
    >>> print("\\n".join(recorder.report().lines()))           # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

WARM_UP_FRAMES = 500  # ONNX Runtime's arena, the allocator and OpenCV's buffers settle within a few hundred
RSS_GROWTH_LIMIT_PCT = 5.0
LATENCY_RISE_LIMIT_PCT = 10.0
TREND_BLOCKS = 100
RSS_EVERY_FRAMES = 10
LATENCY = "latency"
SERIES_TITLES = {LATENCY: "latency per frame (capture + inference + post)", "ui": "window update per batch"}
_Z95 = 1.959964


@dataclass(frozen=True)
class Trend:
    """The trend of one series after warm-up (see the module docstring for how `direction` is decided)."""

    count: int
    median_ms: float
    slope_ms_per_1000: float
    slope_low: float
    slope_high: float
    rise_pct: float
    first_decile_ms: float
    last_decile_ms: float
    decile_change_pct: float
    direction: str  # "rising", "falling" or "none"

    @property
    def passed(self) -> bool:
        return self.direction != "rising"


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


@dataclass(frozen=True)
class SoakReport:
    """What a soak run measured and whether it met the targets; `context` says what ran where (model, source,
    load average of the machine at start and end, ...)."""

    frames: int
    warm_up: int
    seconds: float
    fps: float
    dropped: dict[str, int]
    rss: RssFigures
    trends: dict[str, Trend]
    context: dict[str, Any] = field(default_factory=dict)
    rss_trace: list[tuple[int, float]] = field(default_factory=list)  # (frame, MB), thinned to a plottable few

    @property
    def passed(self) -> bool:
        return self.rss.passed and all(trend.passed for trend in self.trends.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames, "warm_up": self.warm_up, "seconds": round(self.seconds, 1),
            "fps": round(self.fps, 2), "dropped": self.dropped, "rss": asdict(self.rss),
            "trends": {name: asdict(trend) for name, trend in self.trends.items()},
            "targets": {"rss_growth_max_pct": RSS_GROWTH_LIMIT_PCT, "latency_rise_max_pct": LATENCY_RISE_LIMIT_PCT},
            "passed": self.passed, **self.context, "rss_trace": self.rss_trace,
        }

    def lines(self) -> list[str]:
        """The report as printed: one line each for the run, memory, every latency series and the verdict."""
        dropped = ", ".join(f"{count} {where}" for where, count in self.dropped.items()) or "0"
        load = self.context.get("load_average")
        lines = [f"soak: {self.frames} frames after {self.warm_up} warm-up frames in {self.seconds:.0f} s "
                 f"({self.fps:.1f} frames/s); dropped frames: {dropped}"
                 + (f"; load average {load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} cores" if load else "")]
        rss = self.rss
        lines.append(f"RSS: start {rss.start_mb:.1f} MB, after warm-up {rss.warm_mb:.1f} MB, end {rss.end_mb:.1f} MB "
                     f"(peak {rss.peak_mb:.1f} MB, slope {rss.slope_mb_per_1000:+.2f} MB per 1000 frames): growth "
                     f"{rss.growth_pct:+.2f} % (target <= {RSS_GROWTH_LIMIT_PCT:g} %)  {_verdict(rss.passed)}")
        for name, trend in self.trends.items():
            lines.append(
                f"{SERIES_TITLES.get(name, name)}: median {trend.median_ms:.2f} ms; slope "
                f"{trend.slope_ms_per_1000:+.3f} ms per 1000 frames (95 % CI {trend.slope_low:+.3f} .. "
                f"{trend.slope_high:+.3f}), {trend.rise_pct:+.1f} % over the run; first decile {trend.first_decile_ms:.2f}"
                f" ms, last decile {trend.last_decile_ms:.2f} ms ({trend.decile_change_pct:+.1f} %): "
                f"{'no trend' if trend.direction == 'none' else trend.direction}  {_verdict(trend.passed)}")
        lines.append(f"soak {_verdict(self.passed)} (targets: RSS growth <= {RSS_GROWTH_LIMIT_PCT:g} %, no latency "
                     f"rise of >= {LATENCY_RISE_LIMIT_PCT:g} % that slope and deciles agree on)")
        return lines


def publish(report: SoakReport, json_path: Path | None, **extra: Any) -> int:
    """Print the report, write it (with `extra` fields first) as JSON when asked; the exit status: 0 when every
    target was met, else 1, so that a script or CI can act on it."""
    print("\n".join(report.lines()))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({**extra, **report.to_dict()}, indent=2) + "\n")
    return 0 if report.passed else 1


def _verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


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
                  rise_limit_pct: float = LATENCY_RISE_LIMIT_PCT) -> Trend:
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
                 direction)


def rss_figures(start_mb: float, frames: Sequence[float], rss_mb: Sequence[float], warm_up: int) -> RssFigures:
    """Memory figures from RSS samples taken at `frames`; the warm-up value is the first sample at or after
    `warm_up`, the end value the last sample."""
    x, y = np.asarray(frames, np.float64), np.asarray(rss_mb, np.float64)
    after = x >= warm_up
    if not after.any():
        raise ValueError(f"no RSS sample at or after the warm-up (frame {warm_up})")
    warm, end = float(y[after][0]), float(y[-1])
    slope, _, _ = theil_sen(*_thin(x[after], y[after]))
    return RssFigures(start_mb, warm, end, float(max(y.max(), start_mb)), 100 * (end - warm) / warm, slope * 1000)


def _thin(x: np.ndarray, y: np.ndarray, most: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """At most `most` evenly spaced points: pairwise slopes of 1,000 samples would be half a million pairs."""
    step = max(1, math.ceil(len(x) / most))
    return x[::step], y[::step]


def rss_mb() -> float:
    """This process's resident memory in MB (one read of /proc on Linux: cheap enough for every tenth frame)."""
    return psutil.Process().memory_info().rss / 2**20


class SoakRecorder:
    """Collects series of milliseconds per frame and RSS samples during a run of `warm_up` + `frames` frames.

    Frame numbers count inspected frames from 1; values at or before `warm_up` are ignored. `read_rss` is how
    memory is read (the tests give a synthetic one).
    """

    def __init__(self, frames: int, warm_up: int, read_rss: Callable[[], float] = rss_mb) -> None:
        self.frames = frames
        self.warm_up = warm_up
        self.read_rss = read_rss
        self.start_mb = 0.0
        self.started = self.warm_started = 0.0
        self._series: dict[str, tuple[list[float], list[float]]] = {}
        self._rss: tuple[list[float], list[float]] = ([], [])
        self._load_start = 0.0

    @property
    def total(self) -> int:
        """Frames to inspect in all: warm-up and measured."""
        return self.warm_up + self.frames

    def start(self) -> None:
        """Call before the first frame: memory at the start, the clock and the machine's load."""
        self.start_mb = self.read_rss()
        self.started = time.perf_counter()
        self._load_start = os.getloadavg()[0]

    def add(self, name: str, frame: int, milliseconds: float) -> None:
        if frame > self.warm_up:
            frames, values = self._series.setdefault(name, ([], []))
            frames.append(frame)
            values.append(milliseconds)

    def sample_rss(self, frame: int, every: int = RSS_EVERY_FRAMES) -> None:
        """Read RSS when `every` frames have passed since the last sample, at the end of warm-up and at the last
        frame (`frame` may jump by several: the window hands over frames in batches)."""
        frames, values = self._rss
        due = (not frames or frame - frames[-1] >= every or frame >= self.total
               or (frame >= self.warm_up and not self.warm_started))
        if not due or (frames and frames[-1] == frame):
            return
        if frame >= self.warm_up and not self.warm_started:
            self.warm_started = time.perf_counter()
        frames.append(frame)
        values.append(self.read_rss())

    def report(self, dropped: dict[str, int] | None = None, **context: Any) -> SoakReport:
        """The figures so far (normally called once `total` frames were inspected)."""
        rss_frames, rss_values = self._rss
        last = int(rss_frames[-1]) if rss_frames else 0
        seconds = time.perf_counter() - (self.warm_started or self.started)
        measured = max(0, last - self.warm_up)
        trends = {name: latency_trend(frames, values) for name, (frames, values) in self._series.items()}
        context.setdefault("load_average", [round(self._load_start, 2), round(os.getloadavg()[0], 2)])
        trace = [(int(frame), round(float(mb), 1)) for frame, mb in zip(*_thin(np.asarray(rss_frames),
                                                                              np.asarray(rss_values), 200))]
        return SoakReport(measured, self.warm_up, seconds, measured / seconds if seconds > 0 else 0.0,
                          dropped or {}, rss_figures(self.start_mb, rss_frames, rss_values, self.warm_up), trends,
                          context, trace)
