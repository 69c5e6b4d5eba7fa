#!/usr/bin/env python3
"""Live inspection on the Jetson's own display: camera -> bundle's engine -> overlay, verdict and readouts.

    python3 device/live.py --bundle ~/inspection-station/current --source csi://0
    python3 device/live.py --bundle . --source file://line.mp4 --loop --headless --max-frames 300

Sources: csi://N, v4l2:///dev/videoN, rtsp://..., file://video.mp4, file://folder/ (live_sources.py). The engine
is the bundle's TensorRT engine, or ONNX Runtime on its graph where TensorRT is absent (live_engine.py). The window
(live_display.py) shows the frame with its anomaly overlay, the OK/NG banner, the score against the threshold (the
category's own when the frame's category is known: --category, or a folder path naming it), FPS, the latency
split (capture, pre-processing, engine, post-processing) and memory. Keys: q quit, space pause, s save the frame.

Every frame's verdict goes to the state folder (live_record.py, default <bundle>/../live) with the NG frames and a
status file the station reads. A failure is written there too (status.json state "failed", reason.txt) before
the exit status 1, so a service that keeps failing says why.

Python 3.8 syntax (JetPack 5) and 3.10 (JetPack 6); numpy, OpenCV, and tensorrt or onnxruntime.
"""

import argparse
import collections
import os
import signal
import sys
import time
import traceback
from typing import Deque, Dict, List, Optional, Tuple

import cv2
import numpy as np

if __package__:
    from . import live_display, live_engine, live_record, live_sources
    from .trt_runtime import RuntimeProblem, read_manifest
else:  # on the device: the bundle's device/ folder is on sys.path (it holds this script)
    import live_display
    import live_engine
    import live_record
    import live_sources
    from trt_runtime import RuntimeProblem, read_manifest

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGUMENTS = 2
STAGES = ("capture", "pre", "engine", "post")
_TIMING_WINDOW = 30  # frames averaged in the readouts


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Live inspection with a deployment bundle on this device.")
    parser.add_argument("--bundle", required=True, help="the bundle (release) directory, e.g. <root>/current")
    parser.add_argument("--source", required=True, help="csi://0, v4l2:///dev/video0, rtsp://..., file://...")
    parser.add_argument("--state-dir", help="status, verdict log and NG frames (default: <bundle>/../live)")
    parser.add_argument("--backend", choices=live_engine.BACKENDS, default="auto")
    parser.add_argument("--category", default="", help="the category the camera shows (its threshold applies)")
    parser.add_argument("--headless", action="store_true", help="no window (the status file is still written)")
    parser.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    parser.add_argument("--window-size", default="1280x720", help="canvas size WIDTHxHEIGHT (default 1280x720)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames (0: run until the end)")
    parser.add_argument("--loop", action="store_true", help="repeat a video file or folder")
    parser.add_argument("--screenshot", help="write the rendered window once to this PNG")
    parser.add_argument("--screenshot-after", type=int, default=10, help="frame to screenshot (default 10)")
    parser.add_argument("--log-max-mb", type=float, default=10.0, help="verdict log size before rotation")
    parser.add_argument("--ng-max-mb", type=float, default=200.0, help="NG folder size before the oldest go")
    parser.add_argument("--status-per-second", type=float, default=4.0)
    args = parser.parse_args(argv)
    try:
        width, height = (int(part) for part in args.window_size.lower().split("x"))
    except ValueError:
        parser.error("--window-size {!r}: expected WIDTHxHEIGHT, e.g. 1280x720".format(args.window_size))
    args.size = (width, height)
    bundle = os.path.abspath(args.bundle)
    args.state_dir = args.state_dir or os.path.join(os.path.dirname(bundle), "live")
    return args


class Meter:
    """FPS over the last two seconds and mean stage times over the last frames."""

    def __init__(self) -> None:
        self._done = collections.deque()  # type: Deque[float]
        self._times = {stage: collections.deque(maxlen=_TIMING_WINDOW) for stage in STAGES}

    def add(self, timings: Dict[str, float]) -> None:
        now = time.monotonic()
        self._done.append(now)
        while now - self._done[0] > 2.0:
            self._done.popleft()
        for stage in STAGES:
            self._times[stage].append(timings[stage])

    @property
    def fps(self) -> float:
        span = self._done[-1] - self._done[0] if len(self._done) >= 2 else 0.0
        return (len(self._done) - 1) / span if span > 0 else 0.0

    def latency(self) -> Dict[str, float]:
        mean = {stage: round(float(np.mean(values)), 2) if values else 0.0 for stage, values in self._times.items()}
        mean["total"] = round(sum(mean[stage] for stage in STAGES), 2)
        return mean


class LiveRun:
    """One run of live inspection; `loop()` returns the number of frames inspected."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.bundle = os.path.abspath(args.bundle)
        self.release = os.path.basename(os.path.realpath(self.bundle))
        os.makedirs(args.state_dir, exist_ok=True)
        self.status = live_record.StatusWriter(args.state_dir, args.status_per_second)
        self.base = {"release": self.release, "bundle": self.bundle, "source": args.source, "pid": os.getpid(),
                     "started_at": time.time()}  # type: Dict[str, object]
        self.status.write(dict(self.base, state="starting"))
        self.notes = []  # type: List[str]
        manifest = read_manifest(self.bundle)
        # Which model gives the verdicts, for the PC's audit trail: the graph's sha256 as the manifest lists it.
        graph = (manifest.get("graph") or {}).get("file", "model.onnx")
        self.base["model_sha256"] = (manifest.get("files") or {}).get(graph, "")
        self.base["precision"] = manifest.get("precision", "")
        self.engine = live_engine.open_engine(self.bundle, manifest, args.backend, self.notes)
        self.base["engine"] = self.engine.name
        self.memory = live_record.MemoryProbe()
        self.window = live_display.open_window(args.headless, not args.windowed, self.notes)
        self.base["window"] = type(self.window).__name__
        self.verdicts = live_record.VerdictLog(os.path.join(args.state_dir, live_record.VERDICT_LOG),
                                               int(args.log_max_mb * 1e6))
        self.ng = live_record.NgFolder(os.path.join(args.state_dir, live_record.NG_DIR), int(args.ng_max_mb * 1e6))
        self.meter = Meter()
        self.display_ms = collections.deque(maxlen=_TIMING_WINDOW)  # type: Deque[float]
        self.paused = False
        self.screenshot_written = False
        self.frames = 0
        self.ng_count = 0
        self.reader = live_sources.LatestFrame(live_sources.open_source(args.source, loop=args.loop))
        for note in self.notes:
            print("note: {}".format(note), flush=True)
        print("live: {} on {} with {}; state in {}".format(self.release, args.source, self.engine.name,
                                                             args.state_dir), flush=True)

    def loop(self) -> int:
        shown = None  # type: Optional[Tuple[np.ndarray, live_display.View, Dict[str, object]]]
        while not self.window.closed:
            if self.args.max_frames and self.frames >= self.args.max_frames:
                break
            if self.paused and shown is not None:
                self._show(*shown)
                time.sleep(0.03)
                continue
            frame = self.reader.take(timeout=0.5)
            if frame is None:
                if self.reader.error:
                    raise RuntimeProblem(self.reader.error)
                if self.reader.ended:
                    break
                continue
            shown = self._inspect(frame)
            self._show(*shown)
        if self.args.screenshot and shown is not None and not self.screenshot_written:
            self._write_png(self.args.screenshot, live_display.compose(shown[0], shown[1], self.args.size))
        return self.frames

    def _inspect(self, frame: live_sources.Captured) -> Tuple[np.ndarray, live_display.View, Dict[str, object]]:
        started = time.perf_counter()
        batch = self.engine.prepare(frame.image)
        prepared = time.perf_counter()
        score, amap = self.engine.run(batch)
        scored = time.perf_counter()
        category = self.args.category or live_engine.category_of(frame.name, self.engine.categories)
        threshold = self.engine.threshold_for(category)
        verdict = "NG" if score >= threshold else "OK"
        shown = live_display.overlay(frame.image, live_engine.heat_of(amap, self.engine.map_low, threshold))
        self.frames += 1
        record = {"t": round(time.time(), 3), "frame": self.frames, "name": frame.name, "verdict": verdict,
                  "score": round(score, 6), "threshold": round(threshold, 6),
                  "category": category}  # type: Dict[str, object]
        if verdict == "NG":
            self.ng_count += 1
            name = "{}_{:06d}_NG.png".format(time.strftime("%Y%m%d-%H%M%S"), self.frames)
            saved = self.ng.submit(name, cv2.cvtColor(shown, cv2.COLOR_RGB2BGR))
            record["saved" if saved else "not_saved"] = saved or "the NG writer is behind"
        self.verdicts.write(record)
        timings = {"capture": frame.capture_ms, "pre": (prepared - started) * 1000,
                   "engine": (scored - prepared) * 1000, "post": (time.perf_counter() - scored) * 1000}
        self.meter.add(timings)
        view = live_display.View(verdict, score, threshold, category, self._lines(record))
        return shown, view, record

    def _lines(self, record: Dict[str, object]) -> List[str]:
        latency, source = self.meter.latency(), self.args.source
        lines = ["release:", "  " + self.release, "engine:", "  " + self.engine.name, "source:",
                 "  " + (source if len(source) <= 40 else "..." + source[-37:]),
                 "FPS {:.1f}   frames {}   NG {}   dropped {}".format(self.meter.fps, self.frames, self.ng_count,
                                                                     self.reader.dropped),
                 "latency (ms, mean of {}):".format(_TIMING_WINDOW),
                 "  capture {capture:.1f}  pre {pre:.1f}".format(**latency),
                 "  engine {engine:.1f}  post {post:.1f}".format(**latency),
                 "  total {:.1f}   display {:.1f}".format(latency["total"], self.display_mean()),
                 "memory ({}):".format(self.memory.source)]
        lines += ["  " + line for line in live_record.memory_lines(self.memory.read())]
        if self.engine.per_category:
            lines.append("thresholds:")
            lines += ["  {}{} {:.4g}".format("> " if name == record["category"] else "", name, value)
                      for name, value in sorted(self.engine.per_category.items())]
        lines += ["keys:", "  q quit  space pause  s save"]
        return lines

    def _show(self, shown: np.ndarray, view: live_display.View, record: Dict[str, object]) -> None:
        view.paused = self.paused
        started = time.perf_counter()
        canvas = live_display.compose(shown, view, self.args.size)
        key = self.window.show(canvas)
        self.display_ms.append((time.perf_counter() - started) * 1000)
        if key == "q":
            self.window.closed = True
        elif key == " ":
            self.paused = not self.paused
        elif key == "s":
            name = "{}_{:06d}_saved.png".format(time.strftime("%Y%m%d-%H%M%S"), self.frames)
            print("saved {}".format(self.ng.save(name, canvas)), flush=True)
        if self.args.screenshot and self.frames == self.args.screenshot_after and not self.paused:
            self._write_png(self.args.screenshot, canvas)
        if self.status.due():
            self.status.write(self._status(record), canvas)

    def _status(self, record: Dict[str, object]) -> Dict[str, object]:
        return dict(self.base, state="paused" if self.paused else "running", fps=round(self.meter.fps, 2),
                    latency_ms=self.meter.latency(), display_ms=self.display_mean(), memory=self.memory.read(),
                    memory_source=self.memory.source, frames=self.frames, ng=self.ng_count,
                    dropped=self.reader.dropped, last=record, notes=self.notes)

    def _write_png(self, path: str, canvas: np.ndarray) -> None:
        if not cv2.imwrite(path, canvas):
            raise RuntimeProblem("{}: cannot write the screenshot".format(path))
        self.screenshot_written = True
        print("screenshot: {}".format(path), flush=True)

    def display_mean(self) -> float:
        """Drawing the canvas and showing it: outside the latency split, but part of what bounds the FPS."""
        return round(float(np.mean(self.display_ms)), 2) if self.display_ms else 0.0

    def finish(self, state: str, error: str = "") -> None:
        self.ng.close()
        final = dict(self.base, state=state, frames=self.frames, ng=self.ng_count, fps=round(self.meter.fps, 2),
                     latency_ms=self.meter.latency(), display_ms=self.display_mean(), memory=self.memory.read(),
                     ng_not_saved=self.ng.dropped, ng_error=self.ng.last_error, error=error)
        self.status.write(final)
        self.reader.close()
        self.window.close()
        self.memory.close()
        self.verdicts.close()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # systemctl stop / the supervisor: end like q, with the status saying "stopped"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    run = None  # type: Optional[LiveRun]
    try:
        run = LiveRun(args)
        frames = run.loop()
        latency = run.meter.latency()
        print("inspected {} frames, {:.1f} FPS, latency ms: {}; display {} ms".format(
            frames, run.meter.fps, " ".join("{} {}".format(k, v) for k, v in latency.items()),
            run.display_mean()), flush=True)
        run.finish("stopped")
        return EXIT_OK
    except KeyboardInterrupt:
        if run is not None:
            run.finish("stopped")
        return EXIT_OK
    except (RuntimeProblem, live_sources.SourceProblem, RuntimeError, OSError, cv2.error) as problem:
        return _failed(args, run, "{}: {}".format(type(problem).__name__, problem))
    except Exception as problem:  # noqa: BLE001 - whatever it is, the station must be able to read why
        traceback.print_exc()
        return _failed(args, run, "{}: {}".format(type(problem).__name__, problem))


def _failed(args: argparse.Namespace, run: Optional[LiveRun], reason: str) -> int:
    print("error: {}".format(reason), file=sys.stderr, flush=True)
    try:
        os.makedirs(args.state_dir, exist_ok=True)
        live_record.write_reason(args.state_dir, "live.py failed: {}".format(reason))
        if run is not None:
            run.finish("failed", reason)
        else:
            live_record.StatusWriter(args.state_dir).write({"state": "failed", "error": reason,
                                                            "source": args.source, "pid": os.getpid(),
                                                            "release": os.path.basename(
                                                                os.path.realpath(args.bundle))})
    except OSError:
        pass
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
