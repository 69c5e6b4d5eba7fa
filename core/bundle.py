"""Deployment bundles: a directory holding the exported graph, the scripts the Jetson runs, and a manifest.

    manifest.json          format, version, precision, input spec, outputs, normalisation, thresholds, categories,
                           facts about the graph, sha256 of every other file, what wrote it
    model.onnx             FP32, FP16 or INT8 (Q/DQ) graph
    device/build_engine.py builds the TensorRT engine on the device (trtexec flags per TensorRT version)
    device/trt_runtime.py  loads the engine and the manifest on the device, predict(images) -> (scores, maps)
    device/live*.py        live inspection on the device's display (camera -> engine -> overlay, status file)

A bundle is written to a temporary sibling and renamed into place, so a failed export never leaves half a bundle
and never destroys the previous one. `verify_bundle` re-hashes every file, as the device does after an upload.

Example:
    >>> write_bundle(Path("model.onnx"), Path("bundles/bottle-int8"), precision="int8",
    ...              input_spec={"name": "image", "shape": [-1, 3, 256, 256], "dtype": "float32", "layout": "NCHW"},
    ...              thresholds=Thresholds(image=0.42), categories=["bottle"], normalisation=Normalisation())
    >>> verify_bundle(Path("bundles/bottle-int8")).precision
    'int8'
"""

from __future__ import annotations

import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.artefact_dir import MANIFEST, contained_file, is_plain_name
from core.errors import InputError
from core.files import write_directory_atomically
from core.graph_facts import GraphFacts, inspect_graph, output_role
from core.model_manifest import (BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION, GRAPH_FILE, BundleManifest, Normalisation,
                                 Thresholds, read_bundle_manifest, verify_bundle, with_files, write_manifest)

__all__ = ["BUNDLE_FORMAT", "DEVICE_SCRIPTS", "FORMAT_VERSION", "GRAPH_FILE", "MANIFEST", "bundle_files",
           "is_bundle_directory", "read_bundle_manifest", "verify_bundle", "write_bundle"]

FORMAT_VERSION = BUNDLE_FORMAT_VERSION  # the device scripts repeat it (a test keeps them in step)
DEVICE_DIR = "device"
PRECISIONS = ("fp32", "fp16", "int8")
INPUT_DTYPES = ("uint8", "float32", "float16")
_SOURCE_SCRIPTS = Path(__file__).parent / "deploy" / "device"  # copied as files: the bundle imports no deploy code
# Every module of the device folder ships: a device script may import any of its neighbours.
DEVICE_SCRIPTS = tuple(sorted(path.name for path in _SOURCE_SCRIPTS.glob("*.py") if path.name != "__init__.py"))
# What `extra` may set: where the bundle came from. The rest is the writer's own.
_EXTRA = frozenset({"method", "backbone", "variant", "source_model", "source_files", "fp32_drift", "report"})


def write_bundle(onnx_path: Path, out_dir: Path, *, precision: str, input_spec: Mapping[str, Any],
                 thresholds: Thresholds, categories: Sequence[str], normalisation: Normalisation,
                 extra: Mapping[str, Any] | None = None, documents: Mapping[str, str] | None = None) -> Path:
    """Write a bundle for `onnx_path` at `out_dir` (replacing a previous bundle there) and return its path.

    The graph is checked against what the manifest will claim: the input's name, dtype and shape, a score and an
    anomaly-map output, and Q/DQ nodes exactly when the precision is int8. `extra` adds top-level manifest keys
    (method, backbone, variant, source_model, source_files, fp32_drift, report) and may not override the ones above. `documents` are text files (name -> text) put
    beside the graph, such as the export's report; like every file, they are hashed in the manifest.
    """
    onnx_path = Path(onnx_path)
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    clash = set(extra or {}) - _EXTRA
    if clash:
        raise ValueError(f"extra manifest keys {sorted(clash)} are not where-it-came-from keys of a bundle")
    facts = inspect_graph(onnx_path)
    spec = _checked_input(onnx_path, facts, input_spec)
    _check_precision(onnx_path, facts, precision)
    outputs = _outputs(onnx_path, facts)
    for name in facts.external_files:  # copied into the bundle: never from outside the graph's folder
        if not contained_file(onnx_path.parent, name, onnx_path).is_file():
            raise InputError(f"{onnx_path}: external weights file {name!r} is missing")

    def fill(directory: Path) -> None:
        shutil.copyfile(onnx_path, directory / GRAPH_FILE)
        for name in facts.external_files:
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(onnx_path.parent / name, directory / name)
        (directory / DEVICE_DIR).mkdir()
        for script in DEVICE_SCRIPTS:
            shutil.copyfile(_SOURCE_SCRIPTS / script, directory / DEVICE_DIR / script)
        for name, text in (documents or {}).items():
            if not is_plain_name(name):
                raise ValueError(f"document name {name!r} would leave the bundle")
            (directory / name).write_text(text)
        manifest = BundleManifest(precision=precision, input=spec, outputs=tuple(outputs), files={},
                                  graph={"file": GRAPH_FILE, "opset": facts.opset, "qdq": facts.has_qdq,
                                         "fp16_tensors": facts.has_fp16},
                                  normalisation=normalisation, thresholds=thresholds, categories=tuple(categories),
                                  created_by=_created_by(), **dict(extra or {}))
        write_manifest(directory, with_files(manifest, directory, _files_below(directory)))

    return write_directory_atomically(Path(out_dir), fill, replaceable=is_bundle_directory, kind="deployment bundle")


def bundle_files(manifest: BundleManifest) -> list[str]:
    """Every file of a bundle, relative to it, manifest last (so a copy with a manifest is a complete copy)."""
    return sorted(manifest.files) + [MANIFEST]


def _checked_input(onnx_path: Path, facts: GraphFacts, spec: Mapping[str, Any]) -> dict[str, Any]:
    spec = dict(spec)
    missing = {"name", "shape", "dtype", "layout"} - spec.keys()
    if missing:
        raise InputError(f"input spec for {onnx_path} lacks {sorted(missing)}")
    if spec["layout"] != "NCHW" or len(spec["shape"]) != 4 or spec["dtype"] not in INPUT_DTYPES:
        raise InputError(f"input spec for {onnx_path} must be NCHW, 4-D, dtype one of {INPUT_DTYPES}: {spec}")
    if len(facts.inputs) != 1 or spec["name"] not in facts.inputs:
        raise InputError(f"{onnx_path}: the graph's inputs are {sorted(facts.inputs)}, expected only "
                         f"{spec['name']!r}")
    graph_input = facts.inputs[spec["name"]]
    shape = [int(size) if int(size) > 0 else -1 for size in spec["shape"]]
    if any(size == -1 for size in shape[1:]):
        raise InputError(f"input spec for {onnx_path}: only the batch dimension may be dynamic, got {shape}")
    if len(graph_input.shape) != 4 or any(graph != -1 and graph != claimed
                                          for graph, claimed in zip(graph_input.shape, shape)):
        raise InputError(f"{onnx_path}: input {spec['name']!r} has shape {list(graph_input.shape)} in the graph, "
                         f"the spec says {shape}")
    if graph_input.dtype != spec["dtype"]:
        raise InputError(f"{onnx_path}: input {spec['name']!r} is {graph_input.dtype} in the graph, the spec says "
                         f"{spec['dtype']}")
    return {**spec, "shape": shape}


def _check_precision(onnx_path: Path, facts: GraphFacts, precision: str) -> None:
    # TensorRT gets INT8 from Q/DQ nodes only (explicit quantization; no calibrator on the device).
    if precision == "int8" and not facts.has_qdq:
        raise InputError(f"{onnx_path}: precision int8 needs a Q/DQ (QuantizeLinear/DequantizeLinear) graph")
    if precision != "int8" and facts.has_qdq:
        raise InputError(f"{onnx_path}: the graph has Q/DQ nodes, so its precision is int8, not {precision}")


def _outputs(onnx_path: Path, facts: GraphFacts) -> list[dict[str, Any]]:
    outputs = [{"name": out.name, "shape": list(out.shape), "dtype": out.dtype, "role": output_role(out)}
               for out in facts.outputs]
    roles = sorted(output["role"] for output in outputs)
    if roles != ["anomaly_map", "score"]:
        raise InputError(f"{onnx_path}: expected one image-score output (N or N x 1) and one anomaly-map output "
                         f"(N x 1 x H x W), found {[(out.name, list(out.shape)) for out in facts.outputs]}")
    return outputs


def _files_below(directory: Path) -> list[str]:
    return sorted(path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file())


def _created_by() -> dict[str, str]:
    import onnx

    return {"tool": "inspection-station core.bundle", "python": platform.python_version(),
            "onnx": onnx.__version__, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def is_bundle_directory(path: Path) -> bool:
    """True when `path` holds a readable bundle (so exporting there may replace it): the one rule, for the early
    check of `export --out` and for the write itself."""
    try:
        read_bundle_manifest(path)
    except InputError:
        return False
    return True
