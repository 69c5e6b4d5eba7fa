"""The methods the engine offers: an explicit table, no discovery by subclass or name."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

from core.backbones.weights import PRETRAINED
from core.errors import InputError
from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.methods.patchcore.fit import fit_memory_bank
from core.methods.patchcore.torch_model import PatchcoreModel
from core.methods.stfpm.fit import fit_student
from core.methods.stfpm.torch_model import StudentTeacherModel

FitFunction = Callable[[nn.Module, torch.Tensor, ModelConfig, CancelToken], Generator[Progress, None, None]]


@dataclass(frozen=True)
class MethodSpec:
    """How to build and fit one method. `build(config, weights)` returns an nn.Module whose eval forward maps
    N x 3 x S x S pixels (0..255) to (scores N, anomaly maps N x 1 x S x S)."""

    name: str
    family: str  # "knowledge distillation" | "memory bank"
    description: str
    default_layer_group: str
    default_epochs: int
    trains: bool  # whether fitting trains a network (so QAT can fine-tune it); a memory bank trains nothing
    build: Callable[[ModelConfig, str | Path], nn.Module]
    fit: FitFunction


def _build_student_teacher(config: ModelConfig, weights: str | Path, share_prefix: bool) -> nn.Module:
    prefix = min(config.layers) if share_prefix else 0
    return StudentTeacherModel(config.backbone, config.layers, shared_prefix=prefix, weights=weights)


def _build_patchcore(config: ModelConfig, weights: str | Path) -> nn.Module:
    return PatchcoreModel(config.backbone, config.layers, weights=weights)


METHODS: dict[str, MethodSpec] = {
    "stfpm": MethodSpec(
        name="stfpm",
        family="knowledge distillation",
        description="Student-teacher feature pyramid matching: a student learns to mimic a frozen ImageNet teacher",
        default_layer_group="equiv",
        default_epochs=25,
        trains=True,
        build=partial(_build_student_teacher, share_prefix=False),
        fit=fit_student,
    ),
    "paste": MethodSpec(
        name="paste",
        family="knowledge distillation",
        description="PaSTe: STFPM whose student shares the teacher's first layers (less training memory and MACs)",
        default_layer_group="paste",
        default_epochs=25,
        trains=True,
        build=partial(_build_student_teacher, share_prefix=True),
        fit=fit_student,
    ),
    "patchcore": MethodSpec(
        name="patchcore",
        family="memory bank",
        description="PatchCore: nearest-neighbour distance to a coreset of normal patch features (no training)",
        default_layer_group="patchcore",
        default_epochs=1,
        trains=False,
        build=_build_patchcore,
        fit=fit_memory_bank,
    ),
}

DEFAULT_METHOD = "stfpm"


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown method '{name}' (choose from {', '.join(METHODS)})") from None


def resolve_config(config: ModelConfig) -> ModelConfig:
    """Fill in the method's default layer group and epochs."""
    spec = get_method(config.method)
    return config.resolved(spec.default_layer_group, spec.default_epochs)


def build_model(config: ModelConfig, weights: str | Path = PRETRAINED) -> nn.Module:
    return get_method(config.method).build(config, weights)
