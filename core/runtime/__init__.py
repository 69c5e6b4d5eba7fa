"""Inference backends behind one interface, and `open_runtime`, which picks the fastest one available.

Example:
    >>> runtime = open_runtime(Path("models/demo"))
    >>> scores, maps = runtime.predict(images)          # N x S x S x 3 uint8 in, (N,), (N x S x S) out
    >>> verdicts = scores >= runtime.threshold
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.artefact_dir import BUNDLE_FORMAT, MANIFEST, contained_file, format_of
from core.errors import InputError
from core.model_manifest import (GRAPH_FILE, ONNX_GRAPH, WEIGHTS, BundleManifest, ModelManifest, read_manifest,
                                 verify_bundle)
from core.runtime.base import Runtime
from core.runtime.integer_path import IntegerPath, cpu_integer_path, saturation_warning

BACKENDS = ("auto", "tensorrt", "onnxruntime", "pytorch")


@dataclass
class ModelRuntime:
    """A backend plus what the model directory or bundle says about thresholds, categories and size."""

    backend: Runtime
    model_dir: Path
    manifest: ModelManifest | BundleManifest
    model_bytes: int
    integer_path: IntegerPath = field(default_factory=cpu_integer_path)
    # Set when this INT8 graph is known to give wrong results on this CPU's integer path (see `integer_path`).
    int8_warning: str | None = None

    @property
    def name(self) -> str:
        return self.backend.name

    @property
    def image_size(self) -> int:
        return self.manifest.image_size

    @property
    def precision(self) -> str:
        return self.manifest.precision

    @property
    def threshold(self) -> float:
        return self.manifest.thresholds.required("image", self.model_dir / MANIFEST)

    @property
    def map_low(self) -> float:
        return self.manifest.thresholds.required("map_low", self.model_dir / MANIFEST)

    @property
    def category_thresholds(self) -> dict[str, float]:
        """Per-category image thresholds of a unified model (empty when the manifest has none)."""
        return dict(self.manifest.thresholds.per_category)

    @property
    def categories(self) -> list[str]:
        return list(self.manifest.categories)
    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.backend.predict(images)


def open_runtime(model_dir: Path, prefer: str = "auto", threads: int | None = None) -> ModelRuntime:
    """Verify a model directory or a deployment bundle (an exported FP16/INT8 variant) and load it with `prefer`
    ("auto": ONNX Runtime on the exported graph when there is one and onnxruntime is installed, else PyTorch)."""
    if prefer not in BACKENDS:
        raise InputError(f"unknown runtime '{prefer}' (choose from {', '.join(BACKENDS)})")
    model_dir = Path(model_dir)
    if is_bundle(model_dir):
        return _open_bundle(model_dir, prefer, threads)
    manifest = read_manifest(model_dir)
    graph = model_dir / ONNX_GRAPH
    onnx_usable = graph.is_file() and importlib.util.find_spec("onnxruntime") is not None
    if prefer == "tensorrt":
        raise InputError(f"{model_dir}: TensorRT runs deployment bundles; export one with `python -m core export`")
    if prefer == "onnxruntime" and not onnx_usable:
        raise InputError(f"{model_dir}: no {ONNX_GRAPH} in this model directory, or onnxruntime is not installed")
    if prefer != "pytorch" and onnx_usable:
        from core.runtime.onnx_backend import OnnxRuntime

        backend: Runtime = OnnxRuntime(graph, manifest.image_size, threads)
        return ModelRuntime(backend, model_dir, manifest, graph.stat().st_size)
    from core.model_store import load_model  # PyTorch only when it is the backend
    from core.runtime.torch_backend import TorchRuntime

    loaded = load_model(model_dir)
    return ModelRuntime(TorchRuntime(loaded.network, loaded.config.image_size), model_dir, manifest,
                        (model_dir / WEIGHTS).stat().st_size)


def is_bundle(path: Path) -> bool:
    """True for a deployment bundle written by `export` (as opposed to a model directory)."""
    return format_of(Path(path)) == BUNDLE_FORMAT


def _open_bundle(bundle_dir: Path, prefer: str, threads: int | None) -> ModelRuntime:
    from core.runtime.onnx_backend import OnnxRuntime

    if prefer == "pytorch":
        raise InputError(f"{bundle_dir}: a deployment bundle holds only an ONNX graph; PyTorch cannot run it")
    manifest = verify_bundle(bundle_dir)
    # Built on the device, so not in the manifest; fastest where it exists and TensorRT imports. Never one that a
    # symbolic link brings in from outside the bundle.
    engine = contained_file(bundle_dir, "model.engine", bundle_dir)
    if prefer in ("auto", "tensorrt") and engine.is_file() and importlib.util.find_spec("tensorrt") is not None:
        from core.runtime.tensorrt_backend import TensorRtRuntime

        return ModelRuntime(TensorRtRuntime(bundle_dir, manifest.image_size), bundle_dir, manifest, engine.stat().st_size)
    if prefer == "tensorrt":
        raise InputError(f"{bundle_dir}: TensorRT needs model.engine (built on the device) and the tensorrt module")
    graph = bundle_dir / GRAPH_FILE
    backend = OnnxRuntime(graph, manifest.image_size, threads)
    path = cpu_integer_path()
    warning = saturation_warning(graph, path) if manifest.precision == "int8" else None
    return ModelRuntime(backend, bundle_dir, manifest, graph.stat().st_size, path, warning)
