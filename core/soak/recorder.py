"""Collect a soak run's measurements as it goes: milliseconds per frame, CPU time per frame, RSS samples."""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from core.soak.report import CPU, SoakReport
from core.soak.stats import latency_trend, rss_figures, thin

WARM_UP_FRAMES = 500  # ONNX Runtime's arena, the allocator and OpenCV's buffers settle within a few hundred
RSS_EVERY_FRAMES = 10


def live_objects() -> int:
    """Objects the garbage collector tracks, after a collection (so that garbage not yet collected is not counted;
    ~0.2 s with the window's half a million objects, done twice per run)."""
    gc.collect()
    return len(gc.get_objects())


def rss_mb() -> float:
    """This process's resident memory in MB (one read of /proc on Linux: cheap enough for every tenth frame)."""
    return psutil.Process().memory_info().rss / 2**20


class _Series:
    """(frame, value) pairs in arrays filled in up front, so that recording adds nothing to the RSS it measures
    (Python lists of floats grew ~100 bytes a frame: 0.1 MB per 1000 frames, the whole residual growth seen)."""

    def __init__(self, capacity: int) -> None:
        self.frames = np.full(capacity, np.nan)
        self.values = np.full(capacity, np.nan)
        self.count = 0

    def add(self, frame: float, value: float) -> None:
        if self.count < self.frames.size:
            self.frames[self.count], self.values[self.count] = frame, value
            self.count += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.frames[:self.count], self.values[:self.count]


class SoakRecorder:
    """Collects series of milliseconds and RSS samples during a run of `warm_up` + `frames` frames.

    Frame numbers count inspected frames from 1; values at or before `warm_up` or after the last frame are ignored.
    A series' storage is made at its first `add`, during warm-up. `read_rss` is how memory is read (the tests give
    a synthetic one).
    """

    def __init__(self, frames: int, warm_up: int, read_rss: Callable[[], float] = rss_mb) -> None:
        self.frames = frames
        self.warm_up = warm_up
        self.read_rss = read_rss
        self.start_mb = 0.0
        self.started = self.warm_started = 0.0
        self.objects_warm = 0
        self._series: dict[str, _Series] = {}
        self._rss = _Series(self.total // RSS_EVERY_FRAMES + 8)  # every 10th frame, warm-up's, first and last
        self._cpu_mark: tuple[int, float] | None = None
        self._load_start = 0.0

    @property
    def total(self) -> int:
        """Frames to inspect in all: warm-up and measured."""
        return self.warm_up + self.frames

    def start(self) -> None:
        """Call before the first frame: memory at the start, the clocks and the machine's load."""
        self.start_mb = self.read_rss()
        self.started = time.perf_counter()
        self._cpu_mark = (0, time.process_time())
        self._load_start = os.getloadavg()[0]

    def add(self, name: str, frame: int, milliseconds: float) -> None:
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = _Series(self.frames)
        if self.warm_up < frame <= self.total:
            series.add(frame, milliseconds)

    def add_cpu(self, frame: int) -> None:
        """Record the process's CPU time per frame since the previous call (every thread: capture, inference, UI)."""
        now = time.process_time()
        if self._cpu_mark is not None and frame > self._cpu_mark[0]:
            self.add(CPU, frame, (now - self._cpu_mark[1]) * 1000 / (frame - self._cpu_mark[0]))
        self._cpu_mark = (frame, now)

    def sample_rss(self, frame: int, every: int = RSS_EVERY_FRAMES) -> None:
        """Read RSS when `every` frames have passed since the last sample, at the end of warm-up and at the last
        frame (`frame` may jump by several: the window hands over frames in batches)."""
        last = self._rss.frames[self._rss.count - 1] if self._rss.count else None
        warm_now = frame >= self.warm_up and not self.warm_started
        due = last is None or frame - last >= every or frame >= self.total or warm_now
        if not due or last == frame:
            return
        if warm_now:
            self.warm_started = time.perf_counter()
            self.objects_warm = live_objects()
        self._rss.add(frame, self.read_rss())

    def report(self, dropped: dict[str, int] | None = None, **context: Any) -> SoakReport:
        """The figures so far (normally called once `total` frames were inspected)."""
        rss_frames, rss_values = self._rss.arrays()
        measured = max(0, int(rss_frames[-1]) - self.warm_up) if rss_frames.size else 0
        seconds = time.perf_counter() - (self.warm_started or self.started)
        trends = {name: latency_trend(*series.arrays()) for name, series in self._series.items() if series.count}
        context.setdefault("load_average", [round(self._load_start, 2), round(os.getloadavg()[0], 2)])
        trace = [(int(frame), round(float(mb), 1)) for frame, mb in zip(*thin(rss_frames, rss_values, 200))]
        return SoakReport(measured, self.warm_up, seconds, measured / seconds if seconds > 0 else 0.0, dropped or {},
                          rss_figures(self.start_mb, rss_frames, rss_values, self.warm_up), trends, context,
                          (self.objects_warm, live_objects()), trace)
