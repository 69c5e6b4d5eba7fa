"""`python -m app --startup-report`: how quickly the window opens and inspects the demo, and what it then weighs.

    python -m app --startup-report                 # the demo model on the demo images, 10 frames, then quit
    python -m app --startup-report --frames 20 --runtime onnxruntime --source file://line.avi

The real `MainWindow` opens (off screen where there is no display) with throw-away settings, so it starts as on a
first run: the demo model (or `--model`), the demo images, inspection started at once. Times count from the moment
the process was created, so the interpreter, Qt and every import the window makes are in them: what a user waits
for; the CPU seconds the process used by then are printed beside them, since on a shared machine the wall clock
also counts the others' work. RSS is read after `--frames` inspected frames (the runtime's buffers are allocated by
then), while the window still inspects. The heavy modules the inspect path must not need (torch, timm, ...) are
listed if they were loaded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from app.scripted import close_window, scratch_settings, wait_until

HEAVY_MODULES = ("torch", "timm", "torchvision", "ray", "matplotlib", "sklearn", "core.training")
WINDOW_TIMEOUT_SECONDS = 60.0
INSPECT_TIMEOUT_SECONDS = 120.0


def seconds_since_process_start() -> float:
    """Seconds since the kernel started this process. On Linux from its start time in clock ticks against the
    same clock (CLOCK_BOOTTIME): psutil's `create_time` adds the boot time, which /proc gives to the second only,
    and was 0.56 s off here. Without /proc, psutil's figure."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[19])  # field 22, starttime; the split begins at field 3
        return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):  # not Linux: no /proc, no CLOCK_BOOTTIME
        return time.time() - psutil.Process().create_time()


def heavy_modules_loaded() -> list[str]:
    return [name for name in HEAVY_MODULES if name in sys.modules]


class FrameWatch:
    """Counts the frames the Inspect page shows: when the first one was drawn, and the RSS once `frames` were."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.first_frame_at: float | None = None
        self.first_frame_cpu = 0.0  # CPU seconds of the process by then, all threads
        self.rss_mb: float | None = None
        self.children_mb = 0.0  # child processes at the same moment (the fork server, where one runs)
        self.inspected = 0

    def batch_shown(self, batch: Any, _ui_ms: float) -> None:
        if batch.latest is not None and self.first_frame_at is None:
            self.first_frame_at = seconds_since_process_start()
            self.first_frame_cpu = time.process_time()
        self.inspected = batch.inspected
        if self.rss_mb is None and batch.inspected >= self.frames:
            process = psutil.Process()
            self.rss_mb = process.memory_info().rss / 2**20
            self.children_mb = sum(child.memory_info().rss for child in process.children(recursive=True)) / 2**20


def startup_report(model_dir: Path | None, source: str | None, runtime: str, threads: int | None,
                   frames: int) -> int:
    """Open the window on the demo (or `source`), print time to window, time to first frame and RSS while
    inspecting; 0 if all three were measured, 2 (with a one-line reason) if not."""
    from app.main_window import MainWindow  # timed: importing the window is part of opening it
    from core.demo_model import usable_demo_model

    model_dir = model_dir or usable_demo_model()
    if model_dir is None:
        print("error: no demo model in resources/demo_model/ or the cache: run `python -m core demo` once, or pass "
              "--model DIR", file=sys.stderr)
        return 2
    window = MainWindow(scratch_settings("startup"), model_dir=model_dir, autostart=True, source=source,
                        runtime=runtime, threads=threads)
    failures: list[str] = []
    window.model.failed.connect(failures.append)
    watch = FrameWatch(frames)
    window.inspect_page.batch_shown.connect(watch.batch_shown)
    window.show()
    try:
        wait_until(lambda: window.windowHandle() is not None and window.windowHandle().isExposed(),
                   WINDOW_TIMEOUT_SECONDS, "the window to be shown")
        window_at, window_cpu = seconds_since_process_start(), time.process_time()
        page = window.inspect_page

        def stopped() -> bool:  # a model is in use but nothing inspects: the source would not open, or it ended
            return page.runtime is not None and not page.running

        wait_until(lambda: watch.rss_mb is not None or bool(failures) or stopped(), INSPECT_TIMEOUT_SECONDS,
                   f"{frames} inspected frames")
        if watch.rss_mb is None and not failures:
            failures.append(f"inspection stopped after {watch.inspected} of {frames} frames: "
                            f"{page.source_state.text()}")
        described = page.worker.source.description if page.worker is not None else "?"
        runtime_name = page.runtime.name if page.runtime is not None else "?"
    except TimeoutError as error:
        print(f"error: {error} ({window.inspect_page.source_state.text()})", file=sys.stderr)
        return 2
    finally:
        close_window(window)
    if failures:
        print(f"error: {failures[0]}", file=sys.stderr)
        return 2
    print(f"model: {model_dir} on {runtime_name}, inspecting {described}")
    # CPU seconds beside wall-clock ones: on a shared machine the wall clock grows with the others' load.
    print(f"time to window: {window_at:.2f} s (CPU {window_cpu:.2f} s)")
    print(f"time to first frame: {watch.first_frame_at:.2f} s (CPU {watch.first_frame_cpu:.2f} s)")
    print(f"RSS while inspecting: {watch.rss_mb:.0f} MB (after {watch.inspected} frames; child processes "
          f"{watch.children_mb:.0f} MB)")
    print(f"heavy modules loaded: {', '.join(heavy_modules_loaded()) or 'none'}")
    return 0
