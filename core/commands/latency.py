"""`python -m core latency`: median inference latency of a model directory on this machine, per runtime."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.commands import arg_types
from core.errors import InputError
from core.runtime import BACKENDS
from core.runtime.latency import measure


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("latency")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--runtime", choices=BACKENDS, default="auto")
    parser.add_argument("--runs", type=arg_types.RUNS, default=50)
    parser.add_argument("--repeats", type=arg_types.whole_number(1, 1000), default=3,
                        help="independent series; the median of their medians")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--profile", action="store_true",
                        help="also print where ONNX Runtime's time goes: kernel time per operator type (dense and "
                             "depthwise convolutions apart) and the graph's nodes after its fusions")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    result = measure(args.model, args.runtime, args.runs, args.repeats)
    if result["int8_warning"]:
        print(f"warning: {result['int8_warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['runtime']} ({result['precision'].upper()}, INT8 path: {result['int8_path']}): "
              f"{result['median_ms']:.2f} ms per image (median of series {result['series_medians_ms']}), "
              f"model file {result['model_bytes'] / 1e6:.1f} MB")
    if args.profile:
        print(profile_of(args.model, args.runs))
    return 0


def profile_of(model_dir: Path, runs: int) -> str:
    """`core.runtime.ort_profile`'s table for the ONNX graph the model directory or bundle runs."""
    from core.runtime import open_runtime
    from core.runtime.onnx_backend import OnnxRuntime
    from core.runtime.ort_profile import profile_graph

    runtime = open_runtime(model_dir, "onnxruntime")
    if not isinstance(runtime.backend, OnnxRuntime):
        raise InputError(f"{model_dir}: --profile needs an ONNX graph run by ONNX Runtime")
    return profile_graph(runtime.backend.graph_path, runtime.image_size, runs).table()
