"""Export a model directory as one precision variant (FP32, FP16, INT8 by PTQ or QAT) into a deployment bundle.

Every variant is checked against the TensorRT operator tables when it targets TensorRT, gets its own thresholds
for its own graph (quantization shifts scores: `core.export.variant_thresholds`), and records how far its scores drift from FP32.

Example:
    >>> spec = VariantSpec(precision="int8", method="ptq", calibration="random-normal", target="cpu")
    >>> bundle = run_to_end(export_variant_job(Path("models/demo"), spec, Path("bundles/demo-int8")))
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from core.bundle import write_bundle
from core.data.dataset import load_normal_images
from core.errors import InputError
from core.export.calibration import CALIBRATION_SOURCES, calibration_inputs, normal_images_by_category
from core.export.fp16 import convert_to_fp16
from core.export.ptq import quantize_ptq
from core.export.report import REPORT_FILE, report_markdown, variant_report
from core.export.variant_thresholds import variant_thresholds
from core.jobs import CancelToken, Progress
from core.methods.registry import get_method
from core.metrics import ThresholdChooser
from core.model_manifest import ONNX_GRAPH, ModelManifest, Thresholds, read_manifest
from core.runtime.onnx_backend import OnnxRuntime

TARGETS = ("cpu", "tensorrt8", "tensorrt10")
PRECISIONS = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class VariantSpec:
    """One way to export a model. `calibration` and `range_method` matter for PTQ only."""

    precision: str = "fp32"
    method: str = "none"  # none | ptq | qat
    calibration: str | None = None
    target: str = "cpu"
    range_method: str = "minmax"
    calibration_samples: int = 64
    qat_epochs: int = 2

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision '{self.precision}' (choose from {', '.join(PRECISIONS)})")
        if self.target not in TARGETS:
            raise InputError(f"unknown target '{self.target}' (choose from {', '.join(TARGETS)})")
        if self.precision == "int8" and self.method not in ("ptq", "qat"):
            raise InputError("INT8 needs --method ptq or qat")
        if self.method == "ptq" and self.calibration not in CALIBRATION_SOURCES:
            raise InputError(f"PTQ needs --calibration, one of {', '.join(CALIBRATION_SOURCES)}")

    @property
    def name(self) -> str:
        parts = [self.precision]
        if self.precision == "int8":
            parts += [self.method] + ([self.calibration] if self.method == "ptq" else [])
        return "-".join(parts + [self.target])


def export_variant_job(
    model_dir: Path,
    spec: VariantSpec,
    out_dir: Path,
    data_roots: Sequence[Path] | None = None,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, Path]:
    """Write the bundle for `spec` at `out_dir` (atomically) and return its path."""
    cancel = cancel or CancelToken()
    started = time.monotonic()
    manifest = read_manifest(model_dir)
    fp32_graph = Path(model_dir) / ONNX_GRAPH
    if not fp32_graph.is_file():
        raise InputError(f"{model_dir}: has no {ONNX_GRAPH}; train it again with this version")
    _check_readable_graph(fp32_graph)
    with tempfile.TemporaryDirectory() as scratch:
        graph = Path(scratch) / ONNX_GRAPH
        yield Progress(0, 0, f"making the {spec.name} graph", stage="export")
        yield from _make_graph(Path(model_dir), manifest, spec, graph, data_roots, cancel)
        cancel.raise_if_cancelled()
        if spec.target.startswith("tensorrt"):
            from core.export.trt_check import assert_tensorrt_compatible

            assert_tensorrt_compatible(graph, spec.target)
        yield Progress(0, 0, "choosing thresholds for this graph", stage="thresholds")
        thresholds, drift = variant_thresholds(manifest, graph, fp32_graph, data_roots, spec.name)
        report = variant_report(spec, fp32_graph, graph, drift, manifest.thresholds, thresholds,
                                time.monotonic() - started)
        size = manifest.image_size
        return write_bundle(
            graph, Path(out_dir),
            # TensorRT builds FP16 from the FP32 graph with --fp16; ONNX Runtime needs the converted graph.
            precision=spec.precision,
            input_spec={"name": "image", "shape": [-1, 3, size, size], "dtype": "float32", "layout": "NCHW"},
            thresholds=thresholds, categories=manifest.categories, normalisation=manifest.normalisation,
            extra={"variant": {**asdict(spec), "name": spec.name}, "method": manifest.method,
                   "backbone": manifest.backbone, "source_model": str(Path(model_dir).absolute()),
                   "source_files": dict(manifest.files), "fp32_drift": drift, "report": report},
            documents={REPORT_FILE: report_markdown(f"{spec.name} of {Path(model_dir).name}", report)},
        )


def _check_readable_graph(graph: Path) -> None:
    """Refuse an unreadable graph here, named as the model's file: each exporter would fail on it in its own way,
    some naming a temporary copy."""
    import onnx

    try:
        onnx.load(str(graph), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf's DecodeError, OSError, onnx's own errors
        raise InputError(f"{graph}: not a readable ONNX graph ({str(error).splitlines()[0]})") from None


def _make_graph(
    model_dir: Path, manifest: ModelManifest, spec: VariantSpec, graph: Path, data_roots: Sequence[Path] | None,
    cancel: CancelToken,
) -> Generator[Progress, None, None]:
    fp32_graph = model_dir / ONNX_GRAPH
    networks = get_method(manifest.method).networks
    if spec.precision == "fp32" or (spec.precision == "fp16" and spec.target.startswith("tensorrt")):
        shutil.copyfile(fp32_graph, graph)
    elif spec.precision == "fp16":
        convert_to_fp16(fp32_graph, graph, networks)
    elif spec.method == "ptq":
        yield Progress(0, 0, f"calibrating on {spec.calibration_samples} {spec.calibration} inputs", stage="calibrate")
        inputs = calibration_inputs(manifest, spec.calibration, spec.calibration_samples, data_roots)
        flavour = "cpu" if spec.target == "cpu" else "tensorrt"
        quantize_ptq(fp32_graph, graph, inputs, networks, flavour, spec.range_method)
    else:
        from core.export.qat import qat_job

        roots = [Path(root) for root in (data_roots or manifest.data_roots)]
        flavour = "cpu" if spec.target == "cpu" else "tensorrt"
        yield from qat_job(model_dir, roots, graph, flavour=flavour, epochs=spec.qat_epochs, cancel=cancel)


def bundle_from_model(model_dir: Path, out_dir: Path, precision: str) -> Path:
    """The bundle `python -m core deploy --model MODEL_DIR` pushes: TensorRT-ready (8.5 rules, which 10.x also
    accepts); INT8 by PTQ calibrated on random-normal inputs, which needs no image folders."""
    from core.jobs import run_to_end

    spec = VariantSpec(precision=precision, method="ptq" if precision == "int8" else "none",
                       calibration="random-normal" if precision == "int8" else None, target="tensorrt8")
    return run_to_end(export_variant_job(Path(model_dir), spec, Path(out_dir)))
