"""What a model directory is, readable without PyTorch: its file names and its verified manifest.

Split from `core.model_store` (which saves and loads networks, and so imports torch) so that running an exported
graph with ONNX Runtime or TensorRT, live or on a device, does not pay PyTorch's import (about 550 MB of RSS here).
"""

from __future__ import annotations

import os
from numbers import Real
from pathlib import Path
from typing import Any

from core.artefact_dir import (KINDS, MANIFEST, MODEL_FORMAT, check_format, listed_files, read_manifest_json,
                               verify_files)
from core.errors import InputError

__all__ = ["FORMAT_VERSION", "MANIFEST", "MODEL_FORMAT", "ONNX_GRAPH", "WEIGHTS", "read_manifest"]

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
ONNX_GRAPH = "model.onnx"  # the FP32 pipeline, exported at save time for ONNX Runtime and TensorRT


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a model directory's manifest: format and version, the fields loading relies on, file names
    that stay inside the directory, and the sha256 of every file. InputError naming the culprit otherwise."""
    path = Path(path)
    manifest = read_manifest_json(path, KINDS[MODEL_FORMAT])
    check_format(path, manifest, MODEL_FORMAT, FORMAT_VERSION)
    _check_fields(path / MANIFEST, manifest)
    files = listed_files(path, manifest)
    if WEIGHTS not in files:
        raise InputError(f"{path / MANIFEST}: lists no {WEIGHTS}, so the weights cannot be verified")
    # Loading opens these two by name: one the manifest does not list would be used unverified.
    if ONNX_GRAPH not in files and os.path.lexists(path / ONNX_GRAPH):
        raise InputError(f"{path / ONNX_GRAPH}: not listed in the manifest, so it cannot be verified; remove it "
                         f"or train the model again")
    verify_files(path, manifest)
    return manifest


def _check_fields(manifest_path: Path, manifest: dict[str, Any]) -> None:
    """The keys the loaders and commands read, with the types they expect (present ones only, where optional)."""
    problems = []
    for key in ("method", "backbone"):
        if not isinstance(manifest.get(key), str):
            problems.append(f"'{key}' is missing or not a name")
    size = manifest.get("image_size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        problems.append(f"'image_size' is {size!r}, not a positive whole number")
    if not isinstance(manifest.get("config"), dict):
        problems.append("'config' is missing or not an object")
    problems += _threshold_problems(manifest.get("thresholds", {}))
    categories = manifest.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(name, str) for name in categories):
        problems.append("'categories' is not a list of names")
    normalisation = manifest.get("normalisation", {"mean": [0] * 3, "std": [1] * 3})
    if not isinstance(normalisation, dict) or not all(
            isinstance(normalisation.get(key), list) and len(normalisation[key]) == 3
            and all(_is_number(value) for value in normalisation[key]) for key in ("mean", "std")):
        problems.append("'normalisation' needs a mean and a std of 3 numbers each")
    if problems:
        raise InputError(f"{manifest_path}: {'; '.join(problems)}")


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _threshold_problems(thresholds: object) -> list[str]:
    """{"image": number, "map_low": number, "per_category": {name: number}, ...}, each key optional here."""
    if not isinstance(thresholds, dict):
        return [f"'thresholds' is {type(thresholds).__name__}, not an object"]
    per_category = thresholds.get("per_category", {})
    if not isinstance(per_category, dict):
        return ["'thresholds' 'per_category' is not an object"]
    values = {key: thresholds[key] for key in ("image", "map_low") if key in thresholds}
    values.update({f"per_category {name}": value for name, value in per_category.items()})
    return [f"'thresholds' {key} is {value!r}, not a number" for key, value in values.items()
            if not _is_number(value)]
