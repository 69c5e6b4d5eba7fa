"""Precision variants side by side: export each one, evaluate it, time it on this CPU and weigh its file.

One implementation for `python -m core compare` (tqdm bars) and the app's Quantize page (a worker), as job
generators: `variant_job` measures one variant, `compare_job` runs a list of them and reports which one it is on.

Example:
    >>> specs = [VariantSpec("fp32"), VariantSpec("int8", "ptq", "random-normal", calibration_samples=64)]
    >>> table = run_to_end(compare_job(Path("models/demo"), specs, [Path("data/bottle")], Path("runs/compare")))
    >>> table["variants"]["int8-ptq-random-normal-cpu"]["mean"]["image_auroc"]
    0.97
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from core.evaluation import evaluate_job
from core.export.calibration import CALIBRATION_SOURCES
from core.export.variants import VariantSpec, export_variant_job
from core.jobs import CancelToken, Progress
from core.methods.registry import get_method
from core.model_manifest import read_bundle_manifest
from core.runtime import open_runtime
from core.runtime.latency import measure

METRICS = ("image_auroc", "pixel_auroc", "pixel_f1_max")
STAGE = "compare"


def default_variants(method: str, samples: int, target: str = "cpu", held_out: bool = True) -> list[VariantSpec]:
    """FP32, FP16, INT8-PTQ with each calibration source (held-out images only where the model held some out:
    `held_out`, False for out-of-fold thresholds), and INT8-QAT for methods that train."""
    variants = [VariantSpec("fp32", target=target), VariantSpec("fp16", target=target)]
    sources = [source for source in CALIBRATION_SOURCES if held_out or source != "heldout"]
    variants += [VariantSpec("int8", "ptq", source, target, calibration_samples=samples) for source in sources]
    if get_method(method).trains:
        variants.append(VariantSpec("int8", "qat", None, target))
    return variants


def variant_job(
    model_dir: Path, spec: VariantSpec, data: Sequence[Path], bundle_dir: Path, cancel: CancelToken | None = None
) -> Generator[Progress, None, dict[str, Any]]:
    """Export `spec` to `bundle_dir`, evaluate it on the labelled test images in `data` with ONNX Runtime, and
    return its row of the comparison: precision, method, calibration, target, mean and per-category metrics,
    median latency (ms, one image), graph size (bytes), score drift from FP32 and the bundle's path."""
    cancel = cancel or CancelToken()
    bundle = yield from export_variant_job(Path(model_dir), spec, Path(bundle_dir), list(data), cancel)
    cancel.raise_if_cancelled()
    # ONNX Runtime for every variant, so that the table compares precisions and not backends.
    results = yield from evaluate_job(open_runtime(bundle, "onnxruntime"), list(data), cancel)
    cancel.raise_if_cancelled()
    yield Progress(0, 0, "measuring latency on this CPU", stage="latency")
    latency = measure(bundle, "onnxruntime")["median_ms"]
    return {
        "precision": spec.precision,
        "method": spec.method,
        "calibration": spec.calibration,
        "target": spec.target,
        "mean": {key: results["mean"].get(key) for key in METRICS},
        "categories": {name: {key: metrics.get(key) for key in METRICS}
                       for name, metrics in results["categories"].items()},
        "latency_ms_median": latency,
        "file_bytes": (bundle / "model.onnx").stat().st_size,
        "fp32_drift": read_bundle_manifest(bundle).fp32_drift,
        "bundle": str(Path(bundle).absolute()),
        "verdicts": _verdicts(results["scores"]),
    }


def _verdicts(scored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per test image (by path): its category, score and verdict (NG when score >= the variant's threshold)."""
    return {path: {"category": category, "score": score, "ng": score >= entry["threshold"]}
            for category, entry in scored.items() for path, score in zip(entry["paths"], entry["scores"])}


def add_verdict_flips(variants: dict[str, dict[str, Any]]) -> None:
    """Give every variant but FP32 `verdict_flips`: the test images whose OK / NG verdict differs from the FP32
    variant's, each at its own thresholds (count and list). Equal AUROC does not mean equal verdicts: INT8 can move
    a part across the operating threshold. Nothing is added when FP32 was not measured."""
    reference = next((name for name, variant in variants.items() if variant.get("precision") == "fp32"), None)
    if reference is None or "verdicts" not in variants[reference]:
        return
    base = variants[reference]["verdicts"]
    for name, variant in variants.items():
        if name == reference or "verdicts" not in variant:
            continue
        flips = [{"path": path, "category": entry["category"], "fp32": _word(base[path]["ng"]),
                  "variant": _word(entry["ng"]), "fp32_score": base[path]["score"], "score": entry["score"]}
                 for path, entry in variant["verdicts"].items() if path in base and entry["ng"] != base[path]["ng"]]
        variant["verdict_flips"] = {"against": reference, "count": len(flips), "images": flips}


def _word(ng: bool) -> str:
    return "NG" if ng else "OK"


def compare_job(
    model_dir: Path, specs: Sequence[VariantSpec], data: Sequence[Path], out_dir: Path,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, dict[str, Any]]:
    """Run `variant_job` for each spec (bundles in `out_dir/<variant name>`); returns {"variants": {name: row}},
    each row but FP32's with its `verdict_flips` against FP32.

    Every record it yields has stage "compare", step = variants finished, total = len(specs), and a message that
    names the variant and what it is doing ("int8-qat-cpu: train: epoch 1/2"), so one bar shows the whole run."""
    cancel = cancel or CancelToken()
    variants: dict[str, Any] = {}
    for index, spec in enumerate(specs):
        cancel.raise_if_cancelled()
        yield Progress(index, len(specs), f"{spec.name}: starting", stage=STAGE)
        inner = variant_job(model_dir, spec, data, Path(out_dir) / spec.name, cancel)
        while True:
            try:
                record = next(inner)
            except StopIteration as finished:
                variants[spec.name] = finished.value
                break
            yield Progress(index, len(specs), f"{spec.name}: {_describe(record)}", stage=STAGE)
        yield Progress(index + 1, len(specs), f"{spec.name}: done", stage=STAGE)
    add_verdict_flips(variants)
    return {"variants": variants}


def _describe(record: Progress) -> str:
    count = f" {record.step}/{record.total}" if record.total else ""
    text = f"{record.stage}{count}" if record.stage else count.strip()
    return f"{text}: {record.message}" if record.message else text
