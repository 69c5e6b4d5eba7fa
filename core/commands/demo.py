"""`python -m core demo`: the headless default job — demo model, evaluation table, overlays, in one command."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.commands import arg_types
from core.commands.evaluate import format_table
from core.commands.predict import write_predictions
from core.commands.progress import run_with_bars
from core.data.demo import ensure_demo_dataset
from core.demo_model import demo_model_job, usable_demo_model
from core.evaluation import evaluate_job
from core.model_store import load_model


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--out", type=arg_types.output_folder, default=Path("runs/demo"),
                        help="where overlays and scores go")
    parser.add_argument("--retrain", type=arg_types.replaced_folder, default=None, metavar="MODEL_DIR",
                        help="train the demo model afresh into MODEL_DIR instead of using the shipped one")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    categories = ensure_demo_dataset()
    print("demo data:", ", ".join(str(path) for path in categories))
    model_dir = None if args.retrain else usable_demo_model()
    if model_dir is None:
        print("training the demo model (STFPM, EfficientNet-Lite0, 256 px); this happens once")
        model_dir = run_with_bars(demo_model_job(args.retrain))
    print(f"model: {model_dir}")
    model = load_model(model_dir)
    results = run_with_bars(evaluate_job(model, categories))
    print(format_table(results))
    test_images = [sample.path for category in categories for sample in _test_samples(category)]
    rows = write_predictions(model, test_images, args.out)
    print(f"{len(rows)} overlays and scores.csv written to {args.out}")
    return 0


def _test_samples(category_root: Path):  # noqa: ANN202 - a tuple of TestSample
    from core.data.dataset import discover_category

    return discover_category(category_root).test
