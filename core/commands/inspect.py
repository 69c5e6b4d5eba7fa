"""`python -m core inspect`: live inspection on the command line, one line per frame.

    python -m core inspect --model models/demo --source file://line.mp4
    frame      12  score   0.4132  OK   capture   2.1 ms  inference  13.0 ms  post   0.3 ms  brick

Source status changes (a camera retrying, a skipped file) go to stderr, so the frame lines stay machine-readable.
A camera or stream that delivers no frame within `--open-timeout` seconds of the start is an error (exit 2); one
that drops out later is reconnected for as long as the command runs, as the window does. Every verdict is recorded
in the station's audit database (`core.audit`: batched on a thread of its own, NG frames kept as JPEG) unless
`--no-audit`; `python -m core history` reads it back. Drift (`core.drift`: the last `--drift-window` frames'
brightness, contrast, sharpness and score against the model's normal images) is printed on stderr when its level
changes, unless `--no-drift`.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from core.audit.frames import DEFAULT_CAP_MB
from core.audit.recorder import AuditRecorder, VerdictContext
from core.audit.records import ModelIdentity
from core.commands import arg_types
from core.commands.audit_flags import add_audit_option, audit_db
from core.drift.monitor import DEFAULT_WINDOW, DriftMonitor, every_for
from core.drift.reference import DriftUnavailable, cache_folder, reference_for
from core.jobs import CancelToken
from core.runtime import BACKENDS, open_runtime
from core.sources import FrameResult, LiveSettings, SourceStatus, inspect_stream, open_source
from core.sources.base import FAILED, OPENING
from core.sources.camera import quiet_video_library_logs


DEFAULT_OPEN_TIMEOUT = 5.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--source", required=True, metavar="URI",
                        help="csi://0, v4l2:///dev/video0, 0 (camera index), rtsp://host:port/path, a GStreamer "
                             "pipeline, file://video.mp4, file://folder/, an image, or demo://")
    parser.add_argument("--runtime", choices=BACKENDS, default="auto")
    parser.add_argument("--threshold", type=arg_types.real_number(0, math.inf), default=None,
                        help="overall image threshold (default: the model's); per-category ones move in proportion")
    parser.add_argument("--save-ng", type=arg_types.output_folder, default=None, metavar="DIR",
                        help="write NG frames with overlay")
    parser.add_argument("--max-frames", type=arg_types.whole_number(0, 10**9), default=0,
                        help="stop after this many frames (0: until the end)")
    parser.add_argument("--no-pace", action="store_true", help="read video files as fast as possible")
    parser.add_argument("--open-timeout", type=arg_types.real_number(0, 3600, above=True),
                        default=DEFAULT_OPEN_TIMEOUT, metavar="SECONDS",
                        help="give up on a camera or stream that delivers no frame within this time "
                             f"(default {DEFAULT_OPEN_TIMEOUT:g}); later drops are reconnected")
    add_audit_option(parser)
    parser.add_argument("--no-audit", action="store_true", help="do not record the verdicts in the audit database")
    parser.add_argument("--audit-frames-mb", type=arg_types.real_number(0, 10**7), default=DEFAULT_CAP_MB,
                        metavar="MB", help=f"disk for the NG frames kept beside the audit database, oldest removed "
                                           f"first (default {DEFAULT_CAP_MB})")
    parser.add_argument("--drift-window", type=arg_types.whole_number(2, 10**6), default=DEFAULT_WINDOW,
                        metavar="N", help="compare the last N frames' brightness, contrast, sharpness and score with "
                                          f"the model's normal images (default {DEFAULT_WINDOW})")
    parser.add_argument("--no-drift", action="store_true", help="no drift alarms")
    parser.set_defaults(run=run)


def drift_monitor(args: argparse.Namespace, runtime: object) -> DriftMonitor | None:
    """The drift monitor, its reference read from the station's cache or built (said on stderr); None when off."""
    if args.no_drift:
        return None
    try:
        reference, note = reference_for(runtime, cache_folder(audit_db(args)))
    except DriftUnavailable as error:
        print(error, file=sys.stderr)
        return None
    print(note, file=sys.stderr)
    return DriftMonitor(reference, args.drift_window, every_for(args.drift_window))


def format_result(result: FrameResult) -> str:
    """One line per frame: index, score, verdict, latency split, category when known."""
    timings = result.timings
    line = (f"frame {result.index:7d}  score {result.score:10.5g}  {result.verdict}  "
            f"capture {timings.capture_ms:6.1f} ms  inference {timings.inference_ms:6.1f} ms  "
            f"post {timings.post_ms:6.1f} ms")
    if result.dropped:
        line += f"  dropped {result.dropped}"
    if result.category:
        line += f"  {result.category}"
    return line


def run(args: argparse.Namespace) -> int:
    runtime = open_runtime(args.model, args.runtime)
    quiet_video_library_logs()  # failures are reported below, once, with their reason
    source = open_source(args.source, pace_video=not args.no_pace, open_timeout=args.open_timeout)
    settings = LiveSettings.for_runtime(runtime, args.threshold, args.save_ng)
    print(f"model {args.model} on {runtime.name} ({runtime.precision.upper()}, INT8 path: "
          f"{runtime.integer_path.name}), threshold {settings.threshold:.5g}, source {source.description}",
          file=sys.stderr)
    if runtime.int8_warning:
        print(f"warning: {runtime.int8_warning}", file=sys.stderr)
    recorder = None if args.no_audit else AuditRecorder(audit_db(args), args.audit_frames_mb)
    if recorder is not None:
        print(f"recording verdicts in {recorder.db_path}", file=sys.stderr)
    monitor, drift_headline = drift_monitor(args, runtime), None
    context = VerdictContext(args.source, ModelIdentity.of(runtime.manifest, runtime.model_dir), settings.map_low)
    cancel = CancelToken()
    stream = inspect_stream(runtime, source, settings, cancel)
    started, inspected, ng, failure = time.perf_counter(), 0, 0, ""
    try:
        for event in stream:
            if isinstance(event, SourceStatus) and event.state == FAILED:
                failure = event.message  # printed once, as the error, below
            elif isinstance(event, SourceStatus) and not (event.state == OPENING and event.attempt > 1):
                print(f"[{event.state}] {event.message}", file=sys.stderr)  # retries are said by [retrying]
            elif isinstance(event, FrameResult):
                inspected, ng = inspected + 1, ng + event.is_ng
                print(format_result(event), flush=True)
                drift = monitor.add_result(event) if monitor is not None else None
                if drift is not None and drift.headline != drift_headline:  # said when it changes, not every check
                    drift_headline = drift.headline
                    print(drift.summary(), file=sys.stderr, flush=True)
                if recorder is not None:
                    recorder.record(event, context)  # queued: written in batches on the recorder's thread
                if event.save_error:
                    print(event.save_error, file=sys.stderr)
                if args.max_frames and inspected >= args.max_frames:
                    break
    finally:
        stream.close()  # stops the capture thread and releases the camera or file
        if recorder is not None:
            recorder.close()  # commits what is pending
            for message in recorder.take_errors():
                print(f"audit: {message}", file=sys.stderr)
    seconds = time.perf_counter() - started
    if inspected or not failure:
        print(f"{inspected} frames, {ng} NG, {inspected / max(seconds, 1e-9):.1f} frames/s", file=sys.stderr)
    if failure:
        print(f"error: {failure}", file=sys.stderr)
        return 2
    return 0
