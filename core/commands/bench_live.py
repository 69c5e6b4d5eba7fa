"""`python -m core bench-live`: sustained end-to-end frames per second of live inspection, and the latency split.

    python -m core bench-live --model models/demo --source file://line.mp4 --seconds 20 --runs 3

The video is read as fast as it decodes, looping, through the same capture thread and loop as the window
(`core.sources.inspect_stream`), so every frame is captured, resized, scored and post-processed (the window also
draws it; that happens on the UI thread, in parallel). Without `--source` a video of the demo test images is made.
Each run warms up first; the report gives the median over runs of frames per second and of the per-frame medians.

    python -m core bench-live --model resources/demo_model --frames 10000 --json soak.json

With `--frames` it is a soak instead: one run of `--warm-up` frames and then `--frames` more, reporting resident
memory at the start, after warm-up and at the end, its growth, dropped frames and the latency trend against the
targets (see `core.soak`); the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from core.commands import arg_types
from core.data.images import IMAGE_SUFFIXES
from core.errors import InputError
from core.jobs import CancelToken
from core.runtime import BACKENDS, open_runtime
from core.soak import LATENCY, SoakRecorder, SoakReport, publish
from core.soak import WARM_UP_FRAMES as SOAK_WARM_UP_FRAMES
from core.sources import FrameResult, LiveSettings, inspect_stream, open_source
from core.sources.base import FrameSource
from core.sources.demo_video import write_demo_video
from core.sources.video import VideoFileSource

WARM_UP_FRAMES = 10
SOAK_PROGRESS_EVERY = 1000


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench-live")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--source", default="", metavar="URI", help="default: a video made from the demo images")
    parser.add_argument("--seconds", type=arg_types.SECONDS, default=20.0, help="length of each run, after warm-up")
    parser.add_argument("--runs", type=arg_types.whole_number(1, 1000), default=3)
    parser.add_argument("--runtime", choices=BACKENDS, default="auto")
    parser.add_argument("--threads", type=arg_types.whole_number(1, 1024), default=None,
                        help="inference threads (default: the runtime's)")
    parser.add_argument("--json", type=arg_types.output_file, default=None, metavar="OUT.json")
    parser.add_argument("--frames", type=arg_types.whole_number(1, 10**7), default=None, metavar="N",
                        help="soak: inspect N frames after the warm-up, report memory growth and latency trend")
    parser.add_argument("--warm-up", type=arg_types.whole_number(0, 10**6), default=SOAK_WARM_UP_FRAMES,
                        metavar="N",
                        help=f"soak: frames before memory and latency are measured (default {SOAK_WARM_UP_FRAMES})")
    parser.set_defaults(run=run)


def open_bench_source(uri: str) -> FrameSource:
    """Video files loop and are not paced (so the run lasts as long as asked); other sources open as usual."""
    path = Path(uri[len("file://"):] if uri.startswith("file://") else uri)
    if path.is_file() and path.suffix.lower() not in IMAGE_SUFFIXES:
        return VideoFileSource(path, pace=False, loop=True)
    return open_source(uri, pace_video=False)


def bench_run(runtime: Any, uri: str, seconds: float) -> dict[str, float]:
    """One run: warm up, then inspect for `seconds`; frames per second and median milliseconds per stage."""
    settings = LiveSettings.for_runtime(runtime)
    cancel = CancelToken()
    timings = []  # only the timings: holding ~1,000 frames and overlays would itself use gigabytes and skew RSS
    dropped = 0
    started = 0.0
    stream = inspect_stream(runtime, open_bench_source(uri), settings, cancel)
    try:
        for event in stream:
            if not isinstance(event, FrameResult):
                continue
            if event.index == WARM_UP_FRAMES:
                started = time.perf_counter()
            elif event.index > WARM_UP_FRAMES:
                timings.append(event.timings)
                dropped = event.dropped
                if time.perf_counter() - started >= seconds:
                    break
    finally:
        stream.close()
    elapsed = time.perf_counter() - started
    if not timings:
        raise SystemExit(f"error: {uri}: fewer than {WARM_UP_FRAMES + 2} frames were inspected")
    return {
        "fps": len(timings) / elapsed,
        "frames": len(timings),
        "capture_ms": statistics.median(timing.capture_ms for timing in timings),
        "inference_ms": statistics.median(timing.inference_ms for timing in timings),
        "post_ms": statistics.median(timing.post_ms for timing in timings),
        "total_ms": statistics.median(timing.total_ms for timing in timings),
        "dropped": dropped,
    }


def soak_run(runtime: Any, uri: str, frames: int, warm_up: int) -> SoakReport:
    """Inspect `warm_up` + `frames` frames from `uri` in one run, recording latency and RSS (see `core.soak`)."""
    recorder = SoakRecorder(frames, warm_up)
    source = open_bench_source(uri)
    inspected, report = 0, None
    recorder.start()
    stream = inspect_stream(runtime, source, LiveSettings.for_runtime(runtime), CancelToken())
    try:
        for event in stream:
            if not isinstance(event, FrameResult):
                continue
            inspected = event.index
            recorder.add(LATENCY, inspected, event.timings.total_ms)
            recorder.add_cpu(inspected)
            recorder.sample_rss(inspected)
            if inspected % SOAK_PROGRESS_EVERY == 0:
                print(f"frame {inspected}/{recorder.total}: {event.timings.total_ms:.1f} ms, "
                      f"RSS {recorder.read_rss():.1f} MB", file=sys.stderr)
            if inspected >= recorder.total:  # measured while still inspecting, as after warm-up
                report = recorder.report({"at capture": event.dropped}, source=source.description,
                                         runtime=runtime.name, image_size=runtime.image_size)
                break
    finally:
        stream.close()
    if report is None:
        raise InputError(f"{uri}: the source ended after {inspected} of {recorder.total} frames")
    return report


def run(args: argparse.Namespace) -> int:
    runtime = open_runtime(args.model, args.runtime, args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as scratch:
        uri = args.source or str(write_demo_video(Path(scratch) / "demo.avi"))
        if args.frames is not None:
            return publish(soak_run(runtime, uri, args.frames, args.warm_up), args.json, model=str(args.model))
        runs = []
        for number in range(1, args.runs + 1):
            runs.append(bench_run(runtime, uri, args.seconds))
            print(f"run {number}: {_format(runs[-1])}", file=sys.stderr)
    summary = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    report = {
        "model": str(args.model), "runtime": runtime.name, "image_size": runtime.image_size,
        "model_mb": round(runtime.model_bytes / 2**20, 2), "source": args.source or "demo video 640x640 (MJPG)",
        "runs": len(runs), "seconds_per_run": args.seconds, "median": summary,
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
    }
    print(f"{runtime.name}, {runtime.image_size} px, {report['model_mb']} MB model, {report['rss_mb']} MB RSS")
    print(f"median of {len(runs)} runs: {_format(summary)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _format(numbers: dict[str, float]) -> str:
    return (f"{numbers['fps']:.1f} frames/s; per frame capture+pre {numbers['capture_ms']:.1f} ms, inference "
            f"{numbers['inference_ms']:.1f} ms, post {numbers['post_ms']:.1f} ms (total {numbers['total_ms']:.1f} ms)")
