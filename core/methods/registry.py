"""The methods the engine offers: an explicit table, no discovery by subclass or name.

Adding a method is its package (torch_model.py, fit.py, settings.py, loss.py where it trains) plus one entry here;
everything else asks the entry (see `core.methods.spec`).
"""

from __future__ import annotations

from dataclasses import fields, replace
from functools import partial
from pathlib import Path
from typing import Any

from torch import nn

from core.backbones.weights import PRETRAINED
from core.errors import InputError
from core.methods.cfa.fit import descriptor_optimiser, fit_cfa
from core.methods.cfa.loss import coupled_hypersphere_loss
from core.methods.cfa.settings import CfaSettings
from core.methods.cfa.torch_model import CfaModel
from core.methods.config import ModelConfig
from core.methods.padim.fit import fit_gaussians
from core.methods.padim.out_of_fold import fit_gaussians_out_of_fold
from core.methods.padim.settings import PadimSettings
from core.methods.padim.teach import teach_gaussians
from core.methods.padim.torch_model import PadimModel
from core.methods.patchcore.fit import fit_memory_bank
from core.methods.patchcore.out_of_fold import fit_memory_bank_out_of_fold
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.teach import teach_memory_bank
from core.methods.patchcore.torch_model import PatchcoreModel
from core.methods.rd.fit import fit_reverse_distillation
from core.methods.rd.loss import reverse_distillation_loss
from core.methods.rd.settings import ReverseDistillationSettings
from core.methods.rd.torch_model import ReverseDistillationModel
from core.methods.spec import MethodSpec, Training
from core.methods.stfpm.fit import fit_student
from core.methods.stfpm.loss import feature_matching_loss
from core.methods.stfpm.settings import StudentSettings
from core.methods.stfpm.torch_model import StudentTeacherModel
from core.methods.us.fit import fit_students, refit_score_statistics
from core.methods.us.loss import regression_loss
from core.methods.us.settings import UninformedStudentsSettings
from core.methods.us.torch_model import UninformedStudentsModel


def _build_student_teacher(config: ModelConfig, weights: str | Path, share_prefix: bool) -> nn.Module:
    prefix = min(config.layers) if share_prefix else 0
    return StudentTeacherModel(config.backbone, config.layers, shared_prefix=prefix, weights=weights)


def _build_reverse_distillation(config: ModelConfig, weights: str | Path) -> nn.Module:
    return ReverseDistillationModel(config.backbone, config.layers, weights=weights,
                                    embedding_stride=config.settings.embedding_stride)


def _build_uninformed_students(config: ModelConfig, weights: str | Path) -> nn.Module:
    return UninformedStudentsModel(config.backbone, config.layers, students=config.settings.students, weights=weights)


def _build_patchcore(config: ModelConfig, weights: str | Path) -> nn.Module:
    return PatchcoreModel(config.backbone, config.layers, weights=weights)


def _build_padim(config: ModelConfig, weights: str | Path) -> nn.Module:
    settings: PadimSettings = config.settings
    return PadimModel(config.backbone, config.layers, weights=weights, channels=settings.channels, seed=config.seed)


def _build_cfa(config: ModelConfig, weights: str | Path) -> nn.Module:
    settings: CfaSettings = config.settings
    return CfaModel(config.backbone, config.layers, weights=weights, gamma_d=settings.gamma_d,
                    neighbours=settings.neighbours, hard_negatives=settings.hard_negatives, radius=settings.radius,
                    margin=settings.margin)


# SGD at 1/40 of STFPM's training rate (0.4) moves the student enough to absorb the quantization error without
# undoing what it learned.
_STUDENT_TRAINING = Training(trained=("student",), loss_inputs="features", loss=feature_matching_loss,
                             fine_tune_learning_rate=0.01)

METHODS: dict[str, MethodSpec] = {
    "stfpm": MethodSpec(
        name="stfpm",
        family="knowledge distillation",
        description="Student-teacher feature pyramid matching: a student learns to mimic a frozen ImageNet teacher",
        default_layer_group="equiv",
        settings=StudentSettings,
        build=partial(_build_student_teacher, share_prefix=False),
        fit=fit_student,
        networks=("teacher.layers", "student"),
        training=_STUDENT_TRAINING,
    ),
    "paste": MethodSpec(
        name="paste",
        family="knowledge distillation",
        description="PaSTe: STFPM whose student shares the teacher's first layers (less training memory and MACs)",
        default_layer_group="paste",
        settings=StudentSettings,
        build=partial(_build_student_teacher, share_prefix=True),
        fit=fit_student,
        networks=("teacher.layers", "student"),
        training=_STUDENT_TRAINING,
    ),
    "rd": MethodSpec(
        name="rd",
        family="knowledge distillation",
        description="Reverse Distillation: a decoder rebuilds a frozen encoder's features from a compact embedding",
        default_layer_group="equiv",
        settings=ReverseDistillationSettings,
        build=_build_reverse_distillation,
        fit=fit_reverse_distillation,
        networks=("encoder.layers", "bottleneck", "decoder"),
        # QAT's SGD rate: see the rd tests / report for how it was chosen.
        training=Training(trained=("bottleneck", "decoder"), loss_inputs="features", loss=reverse_distillation_loss,
                          fine_tune_learning_rate=0.01),
    ),
    "us": MethodSpec(
        name="us",
        family="knowledge distillation",
        description="Uninformed Students: an ensemble of students regresses the teacher; error + spread = anomaly",
        default_layer_group="equiv",
        settings=UninformedStudentsSettings,
        build=_build_uninformed_students,
        fit=fit_students,
        networks=("teacher.layers", "students"),
        # SGD at 0.01 (QAT's optimiser) for students trained with Adam at 1e-3: a small step, enough to absorb the
        # quantization error. The score statistics standardise the students' errors, so QAT refits them.
        training=Training(trained=("students",), loss_inputs="regress", loss=regression_loss,
                          fine_tune_learning_rate=0.01, refit=refit_score_statistics),
    ),
    "patchcore": MethodSpec(
        name="patchcore",
        family="memory bank",
        description="PatchCore: nearest-neighbour distance to a coreset of normal patch features (no training)",
        default_layer_group="patchcore",
        settings=PatchcoreSettings,
        build=_build_patchcore,
        fit=fit_memory_bank,
        networks=("extractor.layers",),
        fit_out_of_fold=fit_memory_bank_out_of_fold,
        teach_good=teach_memory_bank,
    ),
    "padim": MethodSpec(
        name="padim",
        family="memory bank",
        description="PaDiM: Mahalanobis distance to a Gaussian per patch position over random channels (no training)",
        # Stride 8 and 16: 1,024 positions at 256 px, so the statistics stay 41 MB (a stride-4 tap would be 164 MB).
        default_layer_group="patchcore",
        settings=PadimSettings,
        build=_build_padim,
        fit=fit_gaussians,
        networks=("extractor.layers",),
        fit_out_of_fold=fit_gaussians_out_of_fold,
        teach_good=teach_gaussians,
    ),
    "cfa": MethodSpec(
        name="cfa",
        family="memory bank",
        description="CFA: a patch descriptor adapted so normal patches fall in hyperspheres around a memory bank",
        # WideResNet50's layer1-3, as the paper taps, at the same share of compute.
        default_layer_group="equiv",
        settings=CfaSettings,
        build=_build_cfa,
        fit=fit_cfa,
        networks=("extractor.layers", "descriptor"),
        # QAT fine-tunes with training's AdamW at 1/10 of its rate. Not SGD: the loss is scaled by 1 / nu = 1000
        # and its gradients by as much, so one SGD step at 1e-4 multiplied the descriptor's weights by ~280.
        training=Training(trained=("descriptor",), loss_inputs="hypersphere_terms", loss=coupled_hypersphere_loss,
                          fine_tune_learning_rate=1e-4, fine_tune_optimiser=descriptor_optimiser),
    ),
}

DEFAULT_METHOD = "stfpm"


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown method '{name}' (choose from {', '.join(METHODS)})") from None


def resolve_config(config: ModelConfig) -> ModelConfig:
    """Fill in the method's default layer group and settings; refuse settings of another method."""
    spec = get_method(config.method)
    settings = config.settings if config.settings is not None else spec.settings()
    if type(settings) is not spec.settings:
        raise InputError(f"method {spec.name} takes {spec.settings.__name__}, not {type(settings).__name__}")
    return replace(config.with_layers(spec.default_layer_group), settings=settings)


def config_from_dict(data: dict[str, Any], where: str) -> ModelConfig:
    """A saved config (a manifest's "config"), resolved. Version-1 manifests kept the settings flat beside the
    other fields: those are picked up by name, so older models load unchanged."""
    spec = get_method(str(data.get("method")))
    if "settings" in data:
        settings = spec.settings.from_dict(dict(data["settings"]), f"{where} config settings")
    else:
        known = {item.name for item in fields(spec.settings)}
        settings = spec.settings(**{key: value for key, value in data.items() if key in known})
    common = {key: data[key] for key in ("backbone", "layer_group", "image_size", "seed") if key in data}
    config = ModelConfig(method=spec.name, layers=tuple(data.get("layers", ())), settings=settings, **common)
    return resolve_config(config)


def build_model(config: ModelConfig, weights: str | Path = PRETRAINED) -> nn.Module:
    return get_method(config.method).build(resolve_config(config), weights)
