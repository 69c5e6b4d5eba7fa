"""`python -m app.soak`: the soak run with the window open.

    python -m app.soak --model resources/demo_model --frames 10000 --json soak-window.json

The real `MainWindow` (off screen where there is no display) inspects a looping video, by default one made from
the demo images as `bench-live` makes it, for `--warm-up` + `--frames` frames, and reports the same figures as the
headless `python -m core bench-live --frames` (`core.soak`): RSS at the start, after warm-up and at the end, its
growth, Python objects, dropped frames, the trends of wall-clock latency and CPU time per frame. Two more figures
follow the window's own work: the UI thread's CPU milliseconds to show each batch of results (verdict, counters,
NG strip, readouts, live view), which would creep if a widget kept growing, and the Qt objects alive after
warm-up and at the end, which show widgets piling up long before RSS does. The video is read unpaced by default,
so every frame is inspected and the window draws the newest (`--pace` plays it like a camera instead).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

from app.scripted import close_window, scratch_settings, use_offscreen_without_display, wait_until
from core.errors import InputError
from core.soak import LATENCY, UI, WARM_UP_FRAMES, SoakRecorder, SoakReport, publish
from core.sources.video import VideoFileSource

PROGRESS_EVERY = 1000
STALL_SECONDS = 120.0  # no new frame for this long: the run has stopped (a source failure, a hung runtime)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.soak", description="soak run of the window")
    parser.add_argument("--model", type=Path, default=None, metavar="DIR", help="default: the demo model")
    parser.add_argument("--source", type=Path, default=None, metavar="VIDEO",
                        help="video file to loop (default: one made from the demo images, 640x640 MJPG)")
    parser.add_argument("--frames", type=int, default=10_000, metavar="N", help="frames after the warm-up")
    parser.add_argument("--warm-up", type=int, default=WARM_UP_FRAMES, metavar="N")
    parser.add_argument("--pace", action="store_true",
                        help="play the video at its frame rate, like a camera (frames are dropped when slower)")
    parser.add_argument("--runtime", choices=("auto", "onnxruntime", "pytorch"), default="auto")
    parser.add_argument("--threads", type=int, default=None, help="inference threads")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json")
    return parser


class WindowSoak:
    """Records what the Inspect page shows, batch by batch, into a `SoakRecorder`.

    Example:
        >>> soak = WindowSoak(window, SoakRecorder(frames=300, warm_up=50))
        >>> report = soak.run(Path("line.avi"))
    """

    def __init__(self, window: Any, recorder: SoakRecorder) -> None:
        self.window, self.page, self.recorder = window, window.inspect_page, recorder
        self.inspected = 0
        self.dropped = {"at capture": 0, "at display (inspected, not drawn)": 0}
        self.qt_objects: list[int] = []  # alive after warm-up, then at the end
        self.progressed_at = time.monotonic()

    def run(self, video: Path, pace: bool = False) -> SoakReport:
        """Inspect `video` (looping) until `recorder.total` frames were shown; raises `InputError` if it stops."""
        failures: list[str] = []
        self.window.model.failed.connect(failures.append)
        wait_until(lambda: self.page.runtime is not None or bool(failures), 300, "the model to load")
        if self.page.runtime is None:
            raise InputError(failures[0])
        source = VideoFileSource(video, pace=pace, loop=True)
        runtime, report = self.page.runtime, None
        self.page.batch_shown.connect(self._batch_shown)
        self.recorder.start()
        self.page.start_source(source)
        try:
            wait_until(lambda: self.inspected >= self.recorder.total or not self.page.running or self._stalled(),
                       None, "the soak")
            if self.inspected >= self.recorder.total:  # measured while still inspecting, as after warm-up
                self.qt_objects.append(self._count_objects())
                report = self.recorder.report(
                    self.dropped, source=source.description, runtime=runtime.name, image_size=runtime.image_size,
                    qt_platform=QGuiApplication.platformName(), qt_objects=self.qt_objects,
                    ng_thumbnails=len(self.page.ng_strip.thumbnails))
        finally:
            self.page.batch_shown.disconnect(self._batch_shown)
            self.page.stop()
        if report is None:
            raise InputError(f"{video}: inspection stopped after {self.inspected} of {self.recorder.total} frames: "
                             f"{self.page.source_state.text()}")
        return report

    def _batch_shown(self, batch: Any, ui_ms: float) -> None:
        if batch.inspected <= self.inspected:
            return
        first = batch.inspected - len(batch.timings) + 1  # the worker hands over the newest timings, in order
        for offset, timings in enumerate(batch.timings):
            self.recorder.add(LATENCY, first + offset, timings.total_ms)
        self.recorder.add(UI, batch.inspected, ui_ms)
        self.recorder.add_cpu(batch.inspected)
        previous, self.inspected = self.inspected, batch.inspected
        self.progressed_at = time.monotonic()
        self.dropped = {"at capture": batch.source_dropped, "at display (inspected, not drawn)": batch.display_dropped}
        self.recorder.sample_rss(batch.inspected)
        if not self.qt_objects and batch.inspected >= self.recorder.warm_up:
            self.qt_objects.append(self._count_objects())
        if batch.inspected // PROGRESS_EVERY > previous // PROGRESS_EVERY:
            print(f"frame {batch.inspected}/{self.recorder.total}: RSS {self.recorder.read_rss():.1f} MB, "
                  f"{self._count_objects()} Qt objects", file=sys.stderr)

    def _stalled(self) -> bool:
        return time.monotonic() - self.progressed_at > STALL_SECONDS

    def _count_objects(self) -> int:
        return len(self.window.findChildren(QObject))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.frames < 1 or args.warm_up < 0:
        print(f"error: --frames {args.frames} --warm-up {args.warm_up}: need at least 1 frame after a warm-up of 0 "
              "or more", file=sys.stderr)
        return 2
    use_offscreen_without_display()
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow  # Qt widgets: only once asked to run
    from core.demo_model import ensure_demo_model
    from core.sources.demo_video import write_demo_video

    application = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory(prefix="soak-window-") as scratch:
        video = args.source or write_demo_video(Path(scratch) / "demo.avi")
        window = MainWindow(scratch_settings("soak"), model_dir=args.model or ensure_demo_model(), autostart=False,
                            runtime=args.runtime, threads=args.threads)
        window.resize(1500, 950)
        window.show()
        try:
            report = WindowSoak(window, SoakRecorder(args.frames, args.warm_up)).run(video, args.pace)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        finally:
            close_window(window)
            application.processEvents()
    objects = report.context["qt_objects"]
    print(f"window ({report.context['qt_platform']}): Qt objects {objects[0]} after warm-up, {objects[-1]} at the end; "
          f"{report.context['ng_thumbnails']} NG thumbnails in the strip")
    return publish(report, args.json, model=str(args.model or "demo model"), window=True)


if __name__ == "__main__":
    sys.exit(main())
