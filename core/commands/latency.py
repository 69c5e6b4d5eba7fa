"""`python -m core latency`: median inference latency of a model directory on this machine, per runtime."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from core.commands import arg_types
from core.profiling import median_latency_ms
from core.runtime import BACKENDS, open_runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("latency", help="median per-image inference latency (model alone)")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--runtime", choices=BACKENDS, default="auto")
    parser.add_argument("--runs", type=arg_types.RUNS, default=50)
    parser.add_argument("--repeats", type=arg_types.whole_number(1, 1000), default=3,
                        help="independent series; the median of their medians")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(run=run)


def measure(model_dir: Path, runtime_name: str = "auto", runs: int = 50, repeats: int = 3) -> dict[str, float | str]:
    """Median latency of predict() on one image (content does not change the cost), median over `repeats` series."""
    runtime = open_runtime(model_dir, runtime_name)
    image = np.random.default_rng(0).integers(0, 256, (1, runtime.image_size, runtime.image_size, 3), dtype=np.uint8)
    series = [median_latency_ms(lambda: runtime.predict(image), runs=runs) for _ in range(repeats)]
    return {"runtime": runtime.name, "median_ms": float(np.median([s["median_ms"] for s in series])),
            "series_medians_ms": [round(s["median_ms"], 2) for s in series], "model_bytes": runtime.model_bytes,
            "precision": runtime.precision, "int8_path": runtime.integer_path.name,
            "int8_warning": runtime.int8_warning}


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
    return 0
