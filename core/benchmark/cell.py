"""One benchmark cell, run as its own process: `python -m core.benchmark.cell --cell JSON --out OUT --record FILE`.

The process trains first, so its peak memory (ru_maxrss, which the manifest records) is the training's own; it then
evaluates the model, counts its MACs and sizes, exports an INT8 PTQ variant calibrated on the training images, and
times both graphs in ONNX Runtime while nothing else runs in it. One process per cell rather than a `train` and an
`evaluate` child each: the engine's imports take seconds, twice saved per cell. The record (without status and
attempts, which the runner adds) is written to FILE as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from core.benchmark.grid import Cell
from core.benchmark.resources import model_resources
from core.benchmark.results import METRICS
from core.errors import InputError
from core.evaluation import evaluate_job
from core.files import write_file_atomically
from core.export.variants import VariantSpec, export_variant_job
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.registry import get_method
from core.model_store import load_model
from core.runtime.integer_path import cpu_integer_path
from core.runtime.latency import measure
from core.training import train_job

INT8_PTQ = VariantSpec(precision="int8", method="ptq", calibration="train", target="cpu")


def model_dir_of(cell: Cell, out: Path) -> Path:
    return Path(out) / "models" / cell.safe_name


def _config(cell: Cell) -> ModelConfig:
    spec = get_method(cell.method)
    epochs = {"epochs": cell.epochs} if cell.epochs and "epochs" in {item.name for item in fields(spec.settings)} else {}
    return ModelConfig(method=cell.method, backbone=cell.backbone, layer_group=cell.layer_group,
                       image_size=cell.image_size, settings=spec.settings(**epochs))


def train_and_evaluate(cell: Cell, out: Path) -> dict[str, Any]:
    """Train the cell's model (first, so that this process's peak memory is the training's) and evaluate it on its
    categories; returns the evaluation."""
    model_dir = model_dir_of(cell, out)
    run_to_end(train_job(_config(cell), cell.data, model_dir, weights=cell.weights))
    evaluation = run_to_end(evaluate_job(load_model(model_dir), cell.data))
    report = Path(out) / "evaluations" / f"{cell.safe_name}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    write_file_atomically(report, (json.dumps(evaluation, indent=2) + "\n").encode())
    return evaluation


def _metrics(evaluation: dict[str, Any]) -> dict[str, Any]:
    def pick(metrics: dict[str, Any]) -> dict[str, float | None]:
        return {key: metrics.get(key) for key in METRICS}

    return {"categories": {name: pick(metrics) for name, metrics in evaluation["categories"].items()},
            "mean": pick(evaluation["mean"])}


def _int8_latency(cell: Cell, model_dir: Path, out: Path, runs: int) -> tuple[float | None, str | None]:
    """ONNX Runtime median of the INT8 PTQ variant, or None and why (a graph PTQ cannot quantize)."""
    bundle = Path(out) / "bundles" / f"{cell.safe_name}-int8"
    try:
        run_to_end(export_variant_job(model_dir, INT8_PTQ, bundle, data_roots=cell.data))
        return float(measure(bundle, "onnxruntime", runs=runs)["median_ms"]), None
    except Exception as error:  # noqa: BLE001 - the FP32 columns stand; the record says why INT8 is missing
        return None, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"


def run_cell(cell: Cell, out: Path, latency_runs: int = 50) -> dict[str, Any]:
    """Everything a cell reports, but status and attempts."""
    evaluation = train_and_evaluate(cell, out)
    model_dir = model_dir_of(cell, out)
    model = load_model(model_dir)
    resources = model_resources(model.network, get_method(cell.method), cell.image_size, model_dir,
                                dict(model.manifest.training))
    del model  # the latency runs below have the process to themselves
    fp32 = float(measure(model_dir, "onnxruntime", runs=latency_runs)["median_ms"])
    int8, int8_error = _int8_latency(cell, model_dir, out, latency_runs)
    resources["latency_ms"] = {"fp32": round(fp32, 4), "int8": None if int8 is None else round(int8, 4)}
    if int8_error:
        resources["int8_error"] = int8_error
    return {"layers": list(cell.layers), "model_dir": str(model_dir), "cpu": cpu_integer_path().name,
            "metrics": _metrics(evaluation), "resources": resources}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.benchmark.cell")
    parser.add_argument("--cell", required=True, help="the cell as JSON (Cell.to_json)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--record", type=Path, required=True)
    parser.add_argument("--latency-runs", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        record = run_cell(Cell.from_json(json.loads(args.cell)), args.out, args.latency_runs)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    args.record.parent.mkdir(parents=True, exist_ok=True)
    args.record.write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
