"""Model directories: weights (safetensors), a manifest that says what made them, and atomic writes.

A model directory is written to a temporary sibling and renamed into place, so an interrupted or failed run never
leaves half a model and never replaces the previous one. Loading re-hashes every file and refuses a changed one.

Example:
    >>> save_model(model, config, Path("models/bottle"), extra={"categories": ["bottle"]})
    >>> loaded = load_model(Path("models/bottle"))
    >>> scores, maps = loaded.network(pixels)
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from core.backbones.registry import get_backbone
from core.backbones.weights import RANDOM
from core.errors import InputError
from core.files import sha256_of, write_directory_atomically
from core.methods.config import ModelConfig
from core.methods.registry import build_model
from core.model_manifest import FORMAT_VERSION, MANIFEST, MODEL_FORMAT, ONNX_GRAPH, WEIGHTS, read_manifest



@dataclass(frozen=True)
class LoadedModel:
    """A verified model directory: the network in eval mode, its config and its whole manifest."""

    path: Path
    network: nn.Module
    config: ModelConfig
    manifest: dict[str, Any]

    @property
    def threshold(self) -> float:
        return float(self.manifest["thresholds"]["image"])

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def categories(self) -> list[str]:
        return list(self.manifest.get("categories", []))


def library_versions() -> dict[str, str]:
    import numpy
    import timm

    return {"python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
            "numpy": numpy.__version__}


def save_model(
    network: nn.Module, config: ModelConfig, target: Path, extra: dict[str, Any], export_graph: bool = True
) -> Path:
    """Write `network`'s weights, its FP32 ONNX graph (unless `export_graph` is False) and a manifest (config +
    `extra`: categories, thresholds, training summary...) atomically."""
    spec = get_backbone(config.backbone)

    def fill(directory: Path) -> None:
        state = {key: value.detach().contiguous() for key, value in network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS))
        files = [WEIGHTS]
        if export_graph:
            from core.onnx_export import export_onnx

            export_onnx(network, config.image_size, directory / ONNX_GRAPH)
            files.append(ONNX_GRAPH)
        manifest = {
            "format": MODEL_FORMAT,
            "format_version": FORMAT_VERSION,
            "method": config.method,
            "backbone": config.backbone,
            "layers": list(config.layers),
            "layer_group": config.layer_group,
            "image_size": config.image_size,
            "input": {"layout": "NCHW", "channels": "RGB", "dtype": "float32", "range": [0, 255],
                      "shape": [-1, 3, config.image_size, config.image_size]},
            "normalisation": {"mean": list(spec.mean), "std": list(spec.std), "in_graph": True},
            "config": config.to_dict(),
            "library_versions": library_versions(),
            **extra,
            "files": {name: sha256_of(directory / name) for name in files},
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")

    return write_directory_atomically(target, fill, replaceable=is_model_directory, kind="model directory")


def is_model_directory(path: Path) -> bool:
    """True when `path` holds a model directory that verifies (so saving there may replace it)."""
    try:
        read_manifest(path)
    except InputError:
        return False
    return True


def load_model(path: Path) -> LoadedModel:
    """Verify and load a model directory; the network is returned in eval mode on the CPU.

    Weights come only from safetensors (never an unpickled file). A manifest whose config or weights do not make
    the network it describes is refused with the manifest or weight file named."""
    path = Path(path)
    manifest = read_manifest(path)
    try:
        config = ModelConfig.from_dict(manifest["config"])
        network = build_model(config, weights=RANDOM)  # every weight, the teacher's included, comes from the file
    except (TypeError, ValueError, KeyError, InputError) as error:  # InputError: an unknown method or backbone
        raise InputError(f"{path / MANIFEST}: its 'config' does not describe a model this version can build "
                         f"({error})") from None
    try:
        state = load_file(str(path / WEIGHTS))
    except (OSError, SafetensorError) as error:
        raise InputError(f"{path / WEIGHTS}: not a readable safetensors file ({error})") from None
    misfit = _misfit(network.state_dict(), state)
    if not misfit:
        try:
            network.load_state_dict(state)
        except RuntimeError as error:  # torch lists every tensor; its first complaint is enough here
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            misfit = lines[1] if len(lines) > 1 else str(error)
    if misfit:
        raise InputError(f"{path / WEIGHTS}: the weights do not fit the manifest's {config.method} / "
                         f"{config.backbone} network ({misfit})")
    network.eval()
    return LoadedModel(path, network, config, manifest)


def _misfit(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """Missing and unexpected tensors in a few words ("" when the names match). Shapes are load_state_dict's to
    judge: a memory bank's size is the data's, and its module resizes the buffer as it loads."""
    groups = {"missing": [key for key in expected if key not in found],
              "unexpected": [key for key in found if key not in expected]}
    return "; ".join(f"{len(keys)} tensors {what}, e.g. {keys[0]}" for what, keys in groups.items() if keys)
