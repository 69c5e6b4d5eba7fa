"""Model directories: weights (safetensors), a manifest that says what made them, and atomic writes.

A model directory is written to a temporary sibling and renamed into place, so an interrupted or failed run never
leaves half a model and never replaces the previous one. Loading re-hashes every file and refuses a changed one.

Example:
    >>> save_model(model, config, Path("models/bottle"), categories=["bottle"], thresholds=Thresholds(image=0.04))
    >>> loaded = load_model(Path("models/bottle"))
    >>> scores, maps = loaded.network(pixels)
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
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
from core.files import write_directory_atomically
from core.methods.config import ModelConfig
from core.methods.registry import build_model, config_from_dict
from core.model_manifest import (MANIFEST, ONNX_GRAPH, WEIGHTS, ModelManifest, Normalisation, Thresholds,
                                 read_manifest, with_files, write_manifest)
from core.onnx_export import export_onnx


@dataclass(frozen=True)
class LoadedModel:
    """A verified model directory: the network in eval mode, its config and its whole manifest."""

    path: Path
    network: nn.Module
    config: ModelConfig
    manifest: ModelManifest

    @property
    def threshold(self) -> float:
        return self.manifest.thresholds.required("image", self.path / MANIFEST)

    @property
    def map_low(self) -> float:
        return self.manifest.thresholds.required("map_low", self.path / MANIFEST)

    @property
    def image_size(self) -> int:
        return self.config.image_size

    @property
    def categories(self) -> list[str]:
        return list(self.manifest.categories)


def library_versions() -> dict[str, str]:
    import numpy
    import timm

    return {"python": platform.python_version(), "torch": torch.__version__, "timm": timm.__version__,
            "numpy": numpy.__version__}


def save_model(
    network: nn.Module, config: ModelConfig, target: Path, *, categories: Sequence[str] = (),
    thresholds: Thresholds = Thresholds(), holdout_fraction: float = 0.1, data_roots: Sequence[Path] = (),
    data_fingerprint: str | None = None, training: Mapping[str, Any] | None = None, export_graph: bool = True,
) -> Path:
    """Write `network`'s weights, its FP32 ONNX graph (unless `export_graph` is False) and its manifest: the
    config, and what training adds (categories, thresholds, the held-out share of the images split with the
    config's seed, the data, a training summary), atomically."""
    spec = get_backbone(config.backbone)
    manifest = ModelManifest(
        method=config.method, backbone=config.backbone, image_size=config.image_size, config=config.to_dict(),
        layers=tuple(config.layers), layer_group=config.layer_group,
        normalisation=Normalisation(tuple(spec.mean), tuple(spec.std), in_graph=True),  # type: ignore[arg-type]
        thresholds=thresholds, categories=tuple(categories), holdout_fraction=holdout_fraction,
        split_seed=config.seed, data_roots=tuple(str(Path(root).absolute()) for root in data_roots),
        data_fingerprint=data_fingerprint, training=dict(training or {}), library_versions=library_versions())

    def fill(directory: Path) -> None:
        state = {key: value.detach().contiguous() for key, value in network.state_dict().items()}
        save_file(state, str(directory / WEIGHTS))
        files = [WEIGHTS]
        if export_graph:
            export_onnx(network, config.image_size, directory / ONNX_GRAPH)
            files.append(ONNX_GRAPH)
        write_manifest(directory, with_files(manifest, directory, files))

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
        config = config_from_dict(dict(manifest.config), str(path / MANIFEST))
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
