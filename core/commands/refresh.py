"""`python -m core refresh`: rebuild a model directory's graph and thresholds with this version's code.

    python -m core refresh --model models/line3 [--data DIR ...]
    bottle          threshold 0.04213 -> 0.04187

The weights stay; the ONNX graph is exported again and the thresholds are re-chosen on the same held-out normal
images (the manifest records the split). For models saved before the map arithmetic changed (see
`core.model_refresh`). `--data` is needed when the training folders have moved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.commands.progress import run_with_bars
from core.model_refresh import refresh_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("refresh")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--data", nargs="+", type=Path, default=None, metavar="DIR",
                        help="the training folders (default: those the manifest records)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    changes = run_with_bars(refresh_job(args.model, args.data))
    for name, (before, after) in changes.items():
        print(f"{name:<15} threshold {before:.5g} -> {after:.5g}")
    print(f"refreshed {args.model}")
    return 0
