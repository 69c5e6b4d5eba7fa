"""The manifests of model directories and deployment bundles, as typed frozen records: read, checked and written here.

Every other module takes a `ModelManifest` or a `BundleManifest`, never the raw JSON. Both kinds share what a
runtime needs to give verdicts (thresholds, categories, normalisation, image size, method and backbone), so a
runtime, the evaluation and the window handle either through the same fields. Bundles keep their own record here
rather than beside `core.bundle`: the two are read by the same callers and share every checked part.
(The device scripts in core/deploy/device/ read bundle manifests themselves, on purpose: Python 3.8, no engine.)

Torch-free and onnx-free, so that running an exported graph does not pay PyTorch's import (about 550 MB of RSS).

Model format versions: 1 did not record the held-out split; 2 does (`holdout_fraction`, `split_seed`). A version 1
manifest is migrated as it is read (training always held out 10 % then; the split seed was the config's seed).

Example:
    >>> manifest = read_manifest(Path("models/bottle"))
    >>> manifest.thresholds.for_category("bottle"), manifest.holdout_fraction
    (0.0421, 0.1)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from core.artefact_dir import (BUNDLE_FORMAT, KINDS, MANIFEST, MODEL_FORMAT, check_format, listed_files,
                               read_manifest_json, verify_files)
from core.errors import InputError
from core.files import sha256_of

__all__ = ["BUNDLE_FORMAT", "BUNDLE_FORMAT_VERSION", "BundleManifest", "FORMAT_VERSION", "GRAPH_FILE", "MANIFEST",
           "MODEL_FORMAT", "ModelManifest", "Normalisation", "ONNX_GRAPH", "ThresholdBasis", "Thresholds", "WEIGHTS",
           "read_bundle_manifest", "read_manifest", "verify_bundle", "write_manifest"]

FORMAT_VERSION = 2
BUNDLE_FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
ONNX_GRAPH = "model.onnx"  # the FP32 pipeline, exported at save time for ONNX Runtime and TensorRT
GRAPH_FILE = ONNX_GRAPH  # a bundle's graph (FP32, FP16 or INT8) has the same name
V1_HOLDOUT_FRACTION = 0.1  # what training held out before the fraction was recorded


@dataclass(frozen=True)
class ThresholdBasis:
    """How a category's threshold was chosen and how sure that is: from `images` normal scores (out of fold, or of a
    held-out share), aiming at `target_frr`; `exceeding` of them score at or above the threshold, so (binomial,
    Clopper-Pearson) the false-reject rate on new normal parts is below `frr_upper` with `confidence`."""

    source: str  # "out-of-fold" | "held-out"
    folds: int  # 0 when held out
    images: int
    target_frr: float
    exceeding: int
    confidence: float
    frr_upper: float

    def statement(self) -> str:
        """'chosen from 35 normal images (out of fold, 5 folds): the false-reject rate is below 6.4 % with 90 %
        confidence (target 1 %)'."""
        how = f"out of fold, {self.folds} folds" if self.source == "out-of-fold" else "held out"
        images = f"{self.images} normal image{'s' if self.images != 1 else ''}"
        return (f"chosen from {images} ({how}): the false-reject rate is below "
                f"{_percent(self.frr_upper)} with {_percent(self.confidence)} confidence "
                f"(target {_percent(self.target_frr)})")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: object, where: str) -> ThresholdBasis:
        kinds = {"source": str, "folds": int, "images": int, "exceeding": int, "target_frr": Real,
                 "confidence": Real, "frr_upper": Real}
        if not isinstance(value, dict):
            raise InputError(f"{where} is {type(value).__name__}, not an object")
        wrong = [key for key, kind in kinds.items()
                 if not isinstance(value.get(key), kind) or isinstance(value.get(key), bool)]
        if wrong:
            raise InputError(f"{where}: {', '.join(wrong)} missing or of the wrong type")
        return cls(**{key: value[key] for key in kinds})


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds chosen on normal images (`core.metrics.ThresholdChooser`), and the display range.

    `image` is the overall image-score threshold, `per_category` a unified model's own one per category, `map_low`
    a typical normal anomaly-map value (the dark end of overlays). None where a model was saved without them.
    `basis` says per category how each was chosen and how sure it is; `normal_scores` are the normal images' scores
    they were chosen from (the Inspect page's threshold view draws them). Both empty in models saved before them."""

    image: float | None = None
    map_low: float | None = None
    per_category: Mapping[str, float] = field(default_factory=dict)
    heldout_score_max: float | None = None
    basis: Mapping[str, ThresholdBasis] = field(default_factory=dict)
    normal_scores: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def required(self, key: str, manifest_path: Path) -> float:
        """The `image` or `map_low` threshold; InputError naming the manifest when it was saved without it."""
        value = getattr(self, key)
        if value is None:
            raise InputError(f"{manifest_path}: has no '{key}' threshold (saved without thresholds: train it)")
        return value

    def for_category(self, category: str) -> float | None:
        """The category's own threshold when the model was trained on it, else the overall one."""
        return self.per_category.get(category, self.image)

    def statements(self) -> dict[str, str]:
        """Each category's confidence statement (`ThresholdBasis.statement`), where the model recorded one."""
        return {name: basis.statement() for name, basis in self.basis.items()}

    def statement_lines(self) -> list[str]:
        """What `train`, `evaluate` and the Train page say per category: 'threshold bottle 0.0421: chosen from 53
        normal images (...)'. Empty for models saved before thresholds had a basis."""
        return [f"threshold {name} {self.per_category[name]:.4g}: {statement}"
                for name, statement in self.statements().items() if name in self.per_category]

    def to_json(self) -> dict[str, Any]:
        plain: dict[str, Any] = {"image": self.image, "per_category": dict(self.per_category),
                                 "heldout_score_max": self.heldout_score_max, "map_low": self.map_low}
        if self.basis:
            plain["basis"] = {name: basis.to_json() for name, basis in self.basis.items()}
        if self.normal_scores:
            plain["normal_scores"] = {name: [round(float(score), 7) for score in scores]
                                      for name, scores in self.normal_scores.items()}
        return {key: value for key, value in plain.items() if value is not None}

    @classmethod
    def from_json(cls, value: object, where: Path) -> Thresholds:
        if not isinstance(value, dict):
            raise InputError(f"{where}: 'thresholds' is {type(value).__name__}, not an object")
        per_category = value.get("per_category", {})
        if not isinstance(per_category, dict):
            raise InputError(f"{where}: 'thresholds' 'per_category' is not an object")
        numbers = {key: value[key] for key in ("image", "map_low", "heldout_score_max") if key in value}
        numbers.update({f"per_category {name}": number for name, number in per_category.items()})
        wrong = [f"'thresholds' {key} is {number!r}, not a number" for key, number in numbers.items()
                 if not _is_number(number)]
        basis, scores = value.get("basis", {}), value.get("normal_scores", {})
        if not isinstance(basis, dict):
            wrong.append("'thresholds' 'basis' is not an object")
        if not isinstance(scores, dict) or not all(
                isinstance(values, list) and all(map(_is_number, values)) for values in scores.values()):
            wrong.append("'thresholds' 'normal_scores' is not an object of lists of numbers")
        if wrong:
            raise InputError(f"{where}: {'; '.join(wrong)}")
        return cls(image=_float_or_none(value.get("image")), map_low=_float_or_none(value.get("map_low")),
                   per_category={str(name): float(number) for name, number in per_category.items()},
                   heldout_score_max=_float_or_none(value.get("heldout_score_max")),
                   basis={str(name): ThresholdBasis.from_json(item, f"{where}: 'thresholds' basis {name}")
                          for name, item in basis.items()},
                   normal_scores={str(name): tuple(float(score) for score in values)
                                  for name, values in scores.items()})


@dataclass(frozen=True)
class Normalisation:
    """Per-channel mean and std of the backbone, in pixel units (0..255); `in_graph`: the graph applies them."""

    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    in_graph: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std), "in_graph": self.in_graph}

    @classmethod
    def from_json(cls, value: object, where: Path) -> Normalisation:
        if not isinstance(value, dict) or not all(
                isinstance(value.get(key), list) and len(value[key]) == 3 and all(map(_is_number, value[key]))
                for key in ("mean", "std")):
            raise InputError(f"{where}: 'normalisation' needs a mean and a std of 3 numbers each")
        mean, std = (tuple(float(number) for number in value[key]) for key in ("mean", "std"))
        return cls(mean, std, bool(value.get("in_graph", True)))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ModelManifest:
    """What a model directory holds and what made it. `config` is the method's configuration as the method wrote
    it (`ModelConfig.to_dict`); only `core.model_store` turns it back into a config."""

    method: str
    backbone: str
    image_size: int
    config: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[Any, ...] = ()
    layer_group: str | None = None
    normalisation: Normalisation = Normalisation()
    thresholds: Thresholds = Thresholds()
    categories: tuple[str, ...] = ()
    holdout_fraction: float = V1_HOLDOUT_FRACTION
    split_seed: int = 0
    data_roots: tuple[str, ...] = ()
    data_fingerprint: str | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    library_versions: Mapping[str, str] = field(default_factory=dict)

    precision = "fp32"

    @property
    def input_spec(self) -> dict[str, Any]:
        return {"layout": "NCHW", "channels": "RGB", "dtype": "float32", "range": [0, 255],
                "shape": [-1, 3, self.image_size, self.image_size]}

    def to_json(self) -> dict[str, Any]:
        optional = {"data_fingerprint": self.data_fingerprint} if self.data_fingerprint is not None else {}
        return {
            "format": MODEL_FORMAT, "format_version": FORMAT_VERSION,
            "method": self.method, "backbone": self.backbone, "layers": list(self.layers),
            "layer_group": self.layer_group, "image_size": self.image_size, "input": self.input_spec,
            "normalisation": self.normalisation.to_json(), "config": dict(self.config),
            "library_versions": dict(self.library_versions), "categories": list(self.categories),
            "thresholds": self.thresholds.to_json(), "holdout_fraction": self.holdout_fraction,
            "split_seed": self.split_seed, **optional, "data_roots": list(self.data_roots),
            "training": dict(self.training), "files": dict(self.files),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], directory: Path) -> ModelManifest:
        """The record of a model directory's manifest (format and version checked, version 1 migrated); InputError
        naming the manifest and every field that is missing or of the wrong type. Unknown keys are ignored."""
        directory = Path(directory)
        where = directory / MANIFEST
        data = _migrated(dict(data))
        check_format(directory, data, MODEL_FORMAT, FORMAT_VERSION)
        problems = [f"'{key}' is missing or not a name" for key in ("method", "backbone")
                    if not isinstance(data.get(key), str)]
        size = data.get("image_size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            problems.append(f"'image_size' is {size!r}, not a positive whole number")
        if not isinstance(data.get("config"), dict):
            problems.append("'config' is missing or not an object")
        fraction = data.get("holdout_fraction")
        if not _is_number(fraction) or not 0 <= fraction < 1:
            problems.append(f"'holdout_fraction' is {fraction!r}, not a number from 0 to below 1")
        if not isinstance(data.get("split_seed"), int) or isinstance(data.get("split_seed"), bool):
            problems.append(f"'split_seed' is {data.get('split_seed')!r}, not a whole number")
        problems += _list_problems(data, {"categories": str, "data_roots": str, "layers": (str, int)})
        if problems:
            raise InputError(f"{where}: {'; '.join(problems)}")
        return cls(
            method=data["method"], backbone=data["backbone"], image_size=size, config=data["config"],
            files=listed_files(directory, data), layers=tuple(data.get("layers", ())),
            layer_group=data.get("layer_group"),
            normalisation=Normalisation.from_json(data.get("normalisation", Normalisation().to_json()), where),
            thresholds=Thresholds.from_json(data.get("thresholds", {}), where),
            categories=tuple(data.get("categories", ())), holdout_fraction=float(fraction),
            split_seed=data["split_seed"], data_roots=tuple(data.get("data_roots", ())),
            data_fingerprint=data.get("data_fingerprint"), training=dict(data.get("training", {})),
            library_versions=dict(data.get("library_versions", {})),
        )


@dataclass(frozen=True)
class BundleManifest:
    """What a deployment bundle holds (`core.bundle` writes it): the graph's precision, input and outputs, the
    thresholds chosen for this variant, and where it came from. `image_size` is the input's spatial size."""

    precision: str
    input: Mapping[str, Any]
    outputs: tuple[Mapping[str, Any], ...]
    graph: Mapping[str, Any]
    files: Mapping[str, str]
    normalisation: Normalisation = Normalisation()
    thresholds: Thresholds = Thresholds()
    categories: tuple[str, ...] = ()
    created_by: Mapping[str, str] = field(default_factory=dict)
    method: str | None = None
    backbone: str | None = None
    variant: Mapping[str, Any] | None = None
    source_model: str | None = None
    source_files: Mapping[str, str] | None = None
    fp32_drift: Mapping[str, float] | None = None
    report: Mapping[str, Any] | None = None

    @property
    def image_size(self) -> int:
        return int(self.input["shape"][-1])

    def to_json(self) -> dict[str, Any]:
        plain = {"format": BUNDLE_FORMAT, "format_version": BUNDLE_FORMAT_VERSION, "precision": self.precision,
                 "input": dict(self.input), "outputs": [dict(output) for output in self.outputs],
                 "normalisation": self.normalisation.to_json(), "thresholds": self.thresholds.to_json(),
                 "categories": list(self.categories), "graph": dict(self.graph),
                 # The device scripts and older tools read the size here.
                 "image_size": self.image_size, "method": self.method, "backbone": self.backbone,
                 "variant": self.variant, "source_model": self.source_model, "source_files": self.source_files,
                 "fp32_drift": self.fp32_drift, "report": self.report, "files": dict(self.files),
                 "created_by": dict(self.created_by)}
        return {key: value for key, value in plain.items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], directory: Path) -> BundleManifest:
        """The record of a bundle's manifest (format, version, file names and the fields runtimes read checked)."""
        directory = Path(directory)
        where = directory / MANIFEST
        check_format(directory, data, BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION)
        files = listed_files(directory, data)
        graph = data.get("graph", {})
        if GRAPH_FILE not in files or not isinstance(graph, dict) or graph.get("file", GRAPH_FILE) != GRAPH_FILE:
            raise InputError(f"{where}: the manifest lists no {GRAPH_FILE} as its graph")
        spec, outputs = data.get("input"), data.get("outputs", [])
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if not isinstance(shape, list) or len(shape) != 4 or not isinstance(shape[-1], int) or shape[-1] <= 0:
            raise InputError(f"{where}: 'input' needs a shape of 4 sizes, N x 3 x S x S")
        if data.get("precision") not in ("fp32", "fp16", "int8"):
            raise InputError(f"{where}: 'precision' is {data.get('precision')!r}, not fp32, fp16 or int8")
        if not isinstance(outputs, list) or not all(isinstance(output, dict) for output in outputs):
            raise InputError(f"{where}: 'outputs' is not a list of objects")
        problems = _list_problems(data, {"categories": str})
        problems += [f"'{key}' is not a name" for key in ("method", "backbone", "source_model")
                     if data.get(key) is not None and not isinstance(data[key], str)]
        problems += [f"'{key}' is not an object" for key in ("variant", "source_files", "fp32_drift", "report")
                     if data.get(key) is not None and not isinstance(data[key], dict)]
        if problems:
            raise InputError(f"{where}: {'; '.join(problems)}")
        return cls(
            precision=data["precision"], input=spec, outputs=tuple(outputs), graph=graph, files=files,
            normalisation=Normalisation.from_json(data.get("normalisation", Normalisation().to_json()), where),
            thresholds=Thresholds.from_json(data.get("thresholds", {}), where),
            categories=tuple(data.get("categories", ())), created_by=dict(data.get("created_by", {})),
            **{key: data.get(key) for key in ("method", "backbone", "variant", "source_model", "source_files",
                                              "fp32_drift", "report")},
        )


def read_manifest(path: Path, *, verify: bool = True) -> ModelManifest:
    """Read and check a model directory's manifest: format and version (migrating version 1), the fields loading
    relies on, file names that stay inside the directory, and (unless `verify` is False: for showing what a model
    is, on a thread that must not hash hundreds of MB) the sha256 of every file. InputError naming the culprit."""
    path = Path(path)
    data = read_manifest_json(path, KINDS[MODEL_FORMAT])
    manifest = ModelManifest.from_json(data, path)
    if WEIGHTS not in manifest.files:
        raise InputError(f"{path / MANIFEST}: lists no {WEIGHTS}, so the weights cannot be verified")
    # Loading opens these two by name: one the manifest does not list would be used unverified.
    if ONNX_GRAPH not in manifest.files and os.path.lexists(path / ONNX_GRAPH):
        raise InputError(f"{path / ONNX_GRAPH}: not listed in the manifest, so it cannot be verified; remove it "
                         f"or train the model again")
    if verify:
        verify_files(path, manifest.files, MODEL_FORMAT)
    return manifest


def read_bundle_manifest(path: Path) -> BundleManifest:
    """The manifest of the bundle at `path`, checked for format, version, fields and file names that stay inside
    the bundle (no hashing: `core.bundle.verify_bundle` does that)."""
    path = Path(path)
    return BundleManifest.from_json(read_manifest_json(path, KINDS[BUNDLE_FORMAT]), path)


def verify_bundle(path: Path) -> BundleManifest:
    """`read_bundle_manifest`, then every listed file checked against its sha256; InputError naming the file."""
    manifest = read_bundle_manifest(path)
    verify_files(Path(path), manifest.files, BUNDLE_FORMAT)
    return manifest


def write_manifest(directory: Path, manifest: ModelManifest | BundleManifest) -> None:
    """`directory`/manifest.json from the record (inside an atomic directory write: see `core.files`)."""
    text = json.dumps(manifest.to_json(), indent=2, default=_plain) + "\n"
    (Path(directory) / MANIFEST).write_text(text)


def with_files(manifest: ModelManifest | BundleManifest, directory: Path, names: list[str]) -> Any:
    """The record with `files` set to the sha256 of `names` in `directory` (the last step before writing)."""
    return dataclasses.replace(manifest, files={name: sha256_of(Path(directory) / name) for name in names})


def _migrated(data: dict[str, Any]) -> dict[str, Any]:
    """A version 1 model manifest as version 2: held out 10 %, split with the seed of its config."""
    if data.get("format") != MODEL_FORMAT or data.get("format_version") != 1:
        return data
    config = data.get("config")
    seed = config.get("seed", 0) if isinstance(config, dict) else 0
    return {**data, "format_version": 2, "holdout_fraction": V1_HOLDOUT_FRACTION, "split_seed": seed}


def _list_problems(data: Mapping[str, Any], kinds: Mapping[str, type | tuple[type, ...]]) -> list[str]:
    return [f"'{key}' is not a list of {'names' if kind is str else 'names or numbers'}"
            for key, kind in kinds.items()
            if not isinstance(data.get(key, []), list) or not all(isinstance(item, kind) and not isinstance(item, bool)
                                                                  for item in data.get(key, []))]


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _percent(fraction: float) -> str:
    """0.064 -> '6.4 %', 0.9 -> '90 %', 0.01 -> '1 %': at most one decimal, none when it is a whole number."""
    text = f"{100 * fraction:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    """JSON for the numpy scalars and arrays, and paths, that thresholds and reports often arrive as."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
