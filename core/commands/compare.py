"""`python -m core compare`: FP32, FP16 and INT8 variants side by side — accuracy, file size, latency on this CPU."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.commands import arg_types
from core.commands.progress import run_with_bars
from core.export.comparison import METRICS, add_verdict_flips, default_variants, variant_job
from core.errors import InputError
from core.export.variants import VariantSpec
from core.model_manifest import read_manifest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("compare")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--data", nargs="+", type=Path, required=True, metavar="DIR")
    parser.add_argument("--json", type=arg_types.output_file, default=None, metavar="OUT.json")
    parser.add_argument("--out", type=arg_types.output_folder, default=None,
                        help="where the variant bundles go (default: runs/compare/)")
    parser.add_argument("--calibration-samples", type=arg_types.CALIBRATION_SAMPLES, default=64)
    parser.add_argument("--target", choices=["cpu", "tensorrt8", "tensorrt10"], default="cpu")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="variant names to run, e.g. fp32")
    parser.set_defaults(run=run)


def compare_variant(model_dir: Path, spec: VariantSpec, data: list[Path], bundle_dir: Path) -> dict[str, Any]:
    """One row of the comparison (see `core.export.comparison.variant_job`, which the app runs too), with bars."""
    return run_with_bars(variant_job(model_dir, spec, data, bundle_dir))


def run(args: argparse.Namespace) -> int:
    manifest = read_manifest(args.model)
    out = args.out or Path("runs/compare") / args.model.name
    specs = default_variants(manifest.method, args.calibration_samples, args.target,
                             held_out=manifest.holdout_fraction > 0)
    unknown = sorted(set(args.only or ()) - {spec.name for spec in specs})
    if unknown:
        raise InputError(f"--only: no variant named {', '.join(unknown)} for this model (its variants: "
                         f"{', '.join(spec.name for spec in specs)})")
    variants: dict[str, Any] = {}
    for spec in specs:
        if args.only and spec.name not in args.only:
            continue
        variants[spec.name] = compare_variant(args.model, spec, args.data, out / spec.name)
        add_verdict_flips(variants)
        if args.json:  # written after each variant, so a long comparison shows its progress and survives a stop
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"variants": variants}, indent=2) + "\n")
    print(format_comparison(variants))
    print(format_flips(variants))
    return 0


def format_comparison(variants: dict[str, Any]) -> str:
    width = max([len("variant"), *map(len, variants)]) + 2  # "int8-ptq-random-normal-tensorrt10" is 33 long
    header = f"{'variant':<{width}}{'category':<16}{'img AUROC':>10}{'px AUROC':>10}{'F1max':>8}{'ms':>8}{'MB':>7}"
    lines = [header, "-" * len(header)]
    for name, variant in variants.items():
        rows = [*variant["categories"].items(), ("mean", variant["mean"])]
        for category, metrics in rows:
            cells = "".join(f"{_f(metrics[key]):>{width}}" for key, width in zip(METRICS, (10, 10, 8)))
            lines.append(f"{name:<{width}}{category:<16}{cells}{variant['latency_ms_median']:>8.1f}"
                         f"{variant['file_bytes'] / 1e6:>7.1f}")
    return "\n".join(lines)


def format_flips(variants: dict[str, Any], listed: int = 10) -> str:
    """Per variant, how many test images change verdict against FP32, and the first `listed` of them."""
    lines = []
    for name, variant in variants.items():
        flips = variant.get("verdict_flips")
        if flips is None:
            continue
        count = flips["count"]
        lines.append(f"{name}: {count} test image{'s' * (count != 1)} change{'s' * (count == 1)} verdict against "
                     f"{flips['against']}")
        for flip in flips["images"][:listed]:
            lines.append(f"  {flip['path']} ({flip['category']}): FP32 {flip['fp32']} {flip['fp32_score']:.4g} -> "
                         f"{flip['variant']} {flip['score']:.4g}")
        if flips["count"] > listed:
            lines.append(f"  ... and {flips['count'] - listed} more (all of them in --json)")
    return "\n".join(lines) if lines else "verdict changes: FP32 was not among the variants compared"


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
