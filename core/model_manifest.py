"""What a model directory is, readable without PyTorch: its file names and its verified manifest.

Split from `core.model_store` (which saves and loads networks, and so imports torch) so that running an exported
graph with ONNX Runtime or TensorRT, live or on a device, does not pay PyTorch's import (about 550 MB of RSS here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.files import sha256_of

MODEL_FORMAT = "inspection-station-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
ONNX_GRAPH = "model.onnx"  # the FP32 pipeline, exported at save time for ONNX Runtime and TensorRT


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check a model directory's manifest (format, version, file hashes)."""
    manifest_path = Path(path) / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{path}: not a model directory (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{manifest_path}: not valid JSON ({error})") from None
    if manifest.get("format") != MODEL_FORMAT:
        raise InputError(f"{manifest_path}: not an Inspection Station model (format {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise InputError(f"{manifest_path}: format version {version} is not supported (this build reads {FORMAT_VERSION})")
    for name, expected in manifest.get("files", {}).items():
        file = Path(path) / name
        if not file.is_file():
            raise InputError(f"{file}: listed in the manifest but missing")
        if sha256_of(file) != expected:
            raise InputError(f"{file}: changed since the model was saved (sha256 does not match the manifest)")
    return manifest
