"""`python -m core benchmark`: unified versus per-category models, with accuracy and resource figures.

Each training runs in its own process so that its peak memory is its own. Results go to OUT/results.json and a
table. This is the seed of the methods x backbones x layer-groups resource benchmark: each cell is one `run_cell`.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from core.commands import arg_types
from core.methods.registry import METHODS, get_method
from core.model_manifest import read_manifest
from core.model_store import load_model
from core.profiling import count_macs
from core.runtime.latency import measure


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("benchmark", help="unified vs per-category: accuracy, time, memory, latency")
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DIR")
    parser.add_argument("--methods", nargs="+", choices=sorted(METHODS), default=["stfpm", "paste", "patchcore"])
    parser.add_argument("--settings", nargs="+", choices=["unified", "per-category"], default=["unified", "per-category"])
    parser.add_argument("--backbone", default="tf_efficientnet_lite0")
    parser.add_argument("--epochs", type=arg_types.EPOCHS, default=None,
                        help="training epochs of the methods that train (default: each method's own)")
    parser.add_argument("--image-size", type=arg_types.IMAGE_SIZE, default=256)
    parser.add_argument("--out", type=arg_types.output_folder, required=True)
    parser.set_defaults(run=run)


def run_cell(method: str, data: list[Path], name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Train (own process), evaluate (own process), then measure latency, MACs and sizes of one model."""
    model_dir = args.out / "models" / name
    train = [sys.executable, "-m", "core", "train", "--data", *map(str, data), "--method", method,
             "--backbone", args.backbone, "--image-size", str(args.image_size), "--out", str(model_dir)]
    if args.epochs and any(item.name == "epochs" for item in fields(get_method(method).settings)):
        train += ["--epochs", str(args.epochs)]
    subprocess.run(train, check=True, stdout=subprocess.DEVNULL)
    report = args.out / f"{name}.json"
    subprocess.run([sys.executable, "-m", "core", "evaluate", "--model", str(model_dir), "--data", *map(str, data),
                    "--json", str(report)], check=True, stdout=subprocess.DEVNULL)
    manifest = read_manifest(model_dir)
    return {
        "method": method,
        "categories": json.loads(report.read_text())["categories"],
        "training": dict(manifest.training),
        "latency": {runtime: measure(model_dir, runtime) for runtime in ("onnxruntime", "pytorch")},
        "macs": count_macs(load_model(model_dir).network, args.image_size),
        "weights_bytes": (model_dir / "weights.safetensors").stat().st_size,
        "onnx_bytes": (model_dir / "model.onnx").stat().st_size,
    }


def run(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    for method in args.methods:
        cells = []
        if "unified" in args.settings:
            cells.append((f"{method}-unified", args.data))
        if "per-category" in args.settings:
            cells += [(f"{method}-{path.name}", [path]) for path in args.data]
        for name, data in cells:
            if name in results:
                continue  # resumable: a long benchmark can be stopped and started again
            print(f"running {name}", file=sys.stderr, flush=True)
            results[name] = run_cell(method, data, name, args)
            results_path.write_text(json.dumps(results, indent=2) + "\n")
    print(format_results(results))
    return 0


def format_results(results: dict[str, Any]) -> str:
    header = (f"{'model':<26}{'category':<15}{'img AUROC':>10}{'px AUROC':>10}{'F1max':>8}{'AUPRO':>8}"
              f"{'fit s':>8}{'s/img':>7}{'RSS MB':>8}{'fit+MB':>8}{'ORT ms':>8}{'GMAC':>7}{'MB':>7}")
    lines = [header, "-" * len(header)]
    for name, cell in results.items():
        training = cell["training"]
        per_image = training["fit_seconds"] / max(1, training["train_images"])
        for category, metrics in cell["categories"].items():
            lines.append(
                f"{name:<26}{category:<15}{_f(metrics['image_auroc']):>10}{_f(metrics['pixel_auroc']):>10}"
                f"{_f(metrics['pixel_f1_max']):>8}{_f(metrics['aupro']):>8}{training['fit_seconds']:>8.0f}"
                f"{per_image:>7.2f}{training['peak_rss_mb']:>8.0f}{training.get('fit_rss_increase_mb', 0):>8.0f}"
                f"{cell['latency']['onnxruntime']['median_ms']:>8.1f}{cell['macs'] / 1e9:>7.2f}"
                f"{cell['onnx_bytes'] / 1e6:>7.1f}")
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
