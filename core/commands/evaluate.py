"""`python -m core evaluate`: per-category and mean metrics of a model on labelled test images."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.commands import arg_types
from core.commands.progress import run_with_bars
from core.evaluation import evaluate_job
from core.model_store import load_model
from core.runtime import BACKENDS, is_bundle, open_runtime

COLUMNS = ("image_auroc", "pixel_auroc", "pixel_f1_max", "aupro", "image_f1", "image_f1_max")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR_OR_BUNDLE",
                        help="a model directory, or a bundle written by `export` (an FP16 or INT8 variant)")
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DIR")
    parser.add_argument("--runtime", choices=BACKENDS, default=None,
                        help="default: PyTorch for a model directory, the fastest available for a bundle")
    parser.add_argument("--json", type=arg_types.output_file, default=None, metavar="OUT.json")
    parser.set_defaults(run=run)


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table: one row per category, then the mean."""
    header = f"{'category':<20}" + "".join(f"{name:>14}" for name in COLUMNS) + f"{'images':>8}"
    rows = [header, "-" * len(header)]
    for name, metrics in [*results["categories"].items(), ("mean", results["mean"])]:
        cells = "".join(f"{_number(metrics.get(column)):>14}" for column in COLUMNS)
        rows.append(f"{name:<20}{cells}{metrics.get('n_images', ''):>8}")
    return "\n".join(rows)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    if args.runtime is None and not is_bundle(args.model):
        model = load_model(args.model)
    else:
        model = open_runtime(args.model, args.runtime or "auto")
    results = run_with_bars(evaluate_job(model, args.data))
    print(format_table(results))
    print("\n".join(model.manifest.thresholds.statement_lines()))
    for name, reason in results["skipped"].items():
        print(f"skipped {name}: {reason}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
