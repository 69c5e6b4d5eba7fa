"""`python -m core export`: write one precision variant of a model as a bundle (graph, manifest, report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.bundle import is_bundle_directory
from core.commands import arg_types
from core.commands.progress import run_with_bars
from core.errors import InputError
from core.export.calibration import CALIBRATION_SOURCES
from core.export.ptq import RANGE_METHODS
from core.export.report import REPORT_FILE
from core.export.variants import PRECISIONS, TARGETS, VariantSpec, export_variant_job
from core.files import check_replaceable
from core.methods.registry import get_method
from core.model_manifest import read_bundle_manifest, read_manifest

# Options that only one way of quantizing uses; giving one to another way is a mistake worth telling.
_PTQ_ONLY = ("calibration", "calibration_samples", "range_method")
_QAT_ONLY = ("qat_epochs",)


def add_variant_arguments(parser: argparse.ArgumentParser) -> None:
    # Defaults are None so that an option given where it does not apply can be told apart from one left out.
    parser.add_argument("--calibration", choices=CALIBRATION_SOURCES, default=None,
                        help="INT8 PTQ: calibration inputs (default: random-normal)")
    parser.add_argument("--calibration-samples", type=arg_types.CALIBRATION_SAMPLES, default=None,
                        help="INT8 PTQ: number of calibration inputs (default: 64)")
    parser.add_argument("--range-method", choices=RANGE_METHODS, default=None, help="INT8 PTQ (default: minmax)")
    parser.add_argument("--qat-epochs", type=arg_types.EPOCHS, default=None, help="INT8 QAT (default: 2)")
    parser.add_argument("--data", nargs="+", type=Path, default=None, metavar="DIR",
                        help="training folders for calibration/QAT/thresholds (default: those in the manifest)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--method", choices=["ptq", "qat"], default=None, help="INT8 only (default: ptq)")
    parser.add_argument("--target", choices=TARGETS, default="cpu")
    add_variant_arguments(parser)
    parser.add_argument("--out", type=arg_types.replaced_folder, required=True, metavar="DIR")
    parser.set_defaults(run=run)


def variant_spec(args: argparse.Namespace, model_method: str) -> VariantSpec:
    """The variant the options ask for; `InputError` for options that contradict each other or the model."""
    if args.method and args.precision != "int8":
        raise InputError(f"--method {args.method} is for --precision int8 only (got --precision {args.precision})")
    method = args.method or ("ptq" if args.precision == "int8" else "none")
    for names, applies, what in ((_PTQ_ONLY, method == "ptq", "INT8 PTQ"), (_QAT_ONLY, method == "qat", "INT8 QAT")):
        given = [name for name in names if getattr(args, name) is not None]
        if given and not applies:
            option = "--" + given[0].replace("_", "-")
            raise InputError(f"{option} is for {what} only; this export is {_describe(args.precision, method)}")
    if method == "qat" and not get_method(model_method).trains:
        raise InputError(f"{args.model}: --method qat needs a trained network, and {model_method} trains none "
                         "(its memory bank is not a network): use --method ptq")
    given = {name: getattr(args, name) for name in (*_PTQ_ONLY, *_QAT_ONLY) if getattr(args, name) is not None}
    if method == "ptq":
        given.setdefault("calibration", "random-normal")
    return VariantSpec(precision=args.precision, method=method, target=args.target, **given)


def _describe(precision: str, method: str) -> str:
    return f"{precision.upper()}" + (f" {method.upper()}" if method != "none" else "")


def run(args: argparse.Namespace) -> int:
    spec = variant_spec(args, read_manifest(args.model).method)
    check_replaceable(args.out, is_bundle_directory, "deployment bundle")  # now, not after calibrating or fine-tuning
    bundle = run_with_bars(export_variant_job(args.model, spec, args.out, args.data))
    manifest = read_bundle_manifest(bundle)
    graph_bytes = (bundle / "model.onnx").stat().st_size
    print((bundle / REPORT_FILE).read_text())
    print(f"{spec.name}: {bundle} ({graph_bytes / 1e6:.1f} MB graph), threshold {manifest.thresholds.image:.4g}, "
          f"drift from FP32 {manifest.fp32_drift}")
    return 0
