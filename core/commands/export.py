"""`python -m core export`: write one precision variant of a model as a bundle (graph, manifest, report)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.commands.progress import run_with_bars
from core.export.calibration import CALIBRATION_SOURCES
from core.export.ptq import RANGE_METHODS
from core.export.report import REPORT_FILE
from core.export.variants import PRECISIONS, TARGETS, VariantSpec, export_variant_job


def add_variant_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calibration", choices=CALIBRATION_SOURCES, default=None)
    parser.add_argument("--calibration-samples", type=int, default=64)
    parser.add_argument("--range-method", choices=RANGE_METHODS, default="minmax")
    parser.add_argument("--qat-epochs", type=int, default=2)
    parser.add_argument("--data", nargs="+", type=Path, default=None, metavar="DIR",
                        help="training folders for calibration/QAT/thresholds (default: those in the manifest)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export FP32 / FP16 / INT8 (PTQ or QAT) as a deployment bundle")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--method", choices=["ptq", "qat"], default=None, help="INT8 only (default: ptq)")
    parser.add_argument("--target", choices=TARGETS, default="cpu")
    add_variant_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    method = args.method or ("ptq" if args.precision == "int8" else "none")
    calibration = args.calibration or ("random-normal" if method == "ptq" else None)
    spec = VariantSpec(precision=args.precision, method=method, calibration=calibration, target=args.target,
                       range_method=args.range_method, calibration_samples=args.calibration_samples,
                       qat_epochs=args.qat_epochs)
    bundle = run_with_bars(export_variant_job(args.model, spec, args.out, args.data))
    manifest = json.loads((bundle / "manifest.json").read_text())
    graph_bytes = (bundle / "model.onnx").stat().st_size
    print((bundle / REPORT_FILE).read_text())
    print(f"{spec.name}: {bundle} ({graph_bytes / 1e6:.1f} MB graph), threshold {manifest['thresholds']['image']:.4g}, "
          f"drift from FP32 {manifest['fp32_drift']}")
    return 0
