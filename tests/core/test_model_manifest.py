"""The typed manifests: written as read, version 1 migrated, everything else refused in one line naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.demo_model import SHIPPED_DEMO_MODEL
from core.errors import InputError
from core.files import sha256_of
from core.metrics import ThresholdChooser, threshold_from_normal_scores
from core.model_manifest import (FORMAT_VERSION, MANIFEST, MODEL_FORMAT, BundleManifest, ModelManifest,
                                 Normalisation, Thresholds, read_manifest, write_manifest)

THRESHOLDS = Thresholds(image=0.5, map_low=0.01, per_category={"bottle": 0.4, "tile": 0.6}, heldout_score_max=0.45)


def _model(directory: Path, **changes: object) -> ModelManifest:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "weights.safetensors").write_bytes(b"not really weights")
    fields = dict(method="stfpm", backbone="tf_efficientnet_lite0", image_size=64, config={"seed": 3, "epochs": 2},
                  files={"weights.safetensors": sha256_of(directory / "weights.safetensors")}, layers=(3, 9),
                  layer_group="equiv", normalisation=Normalisation((127.5,) * 3, (127.5,) * 3),
                  thresholds=THRESHOLDS, categories=("bottle", "tile"), holdout_fraction=0.25, split_seed=3,
                  data_roots=("/data/bottle", "/data/tile"), training={"train_images": 40})
    return ModelManifest(**{**fields, **changes})  # type: ignore[arg-type]


def _edit(directory: Path, **changes: object) -> None:
    data = json.loads((directory / MANIFEST).read_text())
    (directory / MANIFEST).write_text(json.dumps({**data, **changes}))


def test_a_model_manifest_is_read_as_it_was_written(tmp_path: Path) -> None:
    manifest = _model(tmp_path)
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path) == manifest
    written = json.loads((tmp_path / MANIFEST).read_text())
    assert (written["format"], written["format_version"]) == (MODEL_FORMAT, FORMAT_VERSION)
    assert written["holdout_fraction"] == 0.25 and written["input"]["shape"] == [-1, 3, 64, 64]


def test_a_bundle_manifest_round_trips(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"graph")
    bundle = BundleManifest(precision="int8", input={"name": "image", "shape": [-1, 3, 64, 64], "dtype": "float32",
                                                     "layout": "NCHW"},
                            outputs=({"name": "score", "role": "score"},), graph={"file": "model.onnx"},
                            files={"model.onnx": sha256_of(tmp_path / "model.onnx")}, thresholds=THRESHOLDS,
                            method="stfpm", variant={"name": "int8-ptq-random-normal-cpu"}, fp32_drift={"images": 2})
    assert BundleManifest.from_json(json.loads(json.dumps(bundle.to_json())), tmp_path) == bundle
    assert bundle.image_size == 64 and bundle.to_json()["image_size"] == 64  # the device scripts read it


def test_the_shipped_model_records_its_split_and_how_its_thresholds_were_chosen() -> None:
    """Refreshed with `python -m core refresh` (it was a version 1 manifest before; the migration of those is tested
    below on a manifest made for it)."""
    assert json.loads((SHIPPED_DEMO_MODEL / MANIFEST).read_text())["format_version"] == 2
    manifest = read_manifest(SHIPPED_DEMO_MODEL)
    assert (manifest.holdout_fraction, manifest.split_seed) == (0.1, manifest.config["seed"])
    assert {basis.source for basis in manifest.thresholds.basis.values()} == {"held-out"}
    assert manifest.thresholds.image > manifest.thresholds.map_low > 0
    assert set(manifest.thresholds.per_category) == set(manifest.categories) == {"brick", "gravel", "cup"}


def test_a_version_1_manifest_takes_its_split_seed_from_its_config(tmp_path: Path) -> None:
    write_manifest(tmp_path, _model(tmp_path))
    _edit(tmp_path, format_version=1, holdout_fraction=None, split_seed=None)
    assert (read_manifest(tmp_path).holdout_fraction, read_manifest(tmp_path).split_seed) == (0.1, 3)


@pytest.mark.parametrize("version, complaint", [
    (0, "format version 0 is not supported \\(this build reads 2\\) and cannot be migrated: train the model again"),
    (3, "format version 3 is not supported \\(this build reads 2\\); it was written by a newer version"),
    ("2", "format version '2' is not supported"),
])
def test_other_versions_are_refused(tmp_path: Path, version: object, complaint: str) -> None:
    write_manifest(tmp_path, _model(tmp_path))
    _edit(tmp_path, format_version=version)
    with pytest.raises(InputError, match=complaint):
        read_manifest(tmp_path)


@pytest.mark.parametrize("changes, complaint", [
    ({"holdout_fraction": 1.5}, "'holdout_fraction' is 1.5, not a number from 0 to below 1"),
    ({"split_seed": "zero"}, "'split_seed' is 'zero', not a whole number"),
    ({"image_size": 0}, "'image_size' is 0, not a positive whole number"),
    ({"method": None, "config": []}, "'method' is missing or not a name; 'config' is missing or not an object"),
    ({"thresholds": {"image": "high"}}, "'thresholds' image is 'high', not a number"),
    ({"thresholds": {"per_category": {"bottle": True}}}, "'thresholds' per_category bottle is True, not a number"),
    ({"normalisation": {"mean": [0, 0], "std": [1, 1, 1]}}, "'normalisation' needs a mean and a std of 3 numbers"),
    ({"categories": ["bottle", 3]}, "'categories' is not a list of names"),
])
def test_wrong_fields_are_refused_naming_the_manifest(tmp_path: Path, changes: dict, complaint: str) -> None:
    write_manifest(tmp_path, _model(tmp_path))
    _edit(tmp_path, **changes)
    with pytest.raises(InputError, match=f"{tmp_path / MANIFEST}: .*{complaint}"):
        read_manifest(tmp_path)


def test_a_changed_file_is_found_unless_only_the_record_is_asked_for(tmp_path: Path) -> None:
    write_manifest(tmp_path, _model(tmp_path))
    (tmp_path / "weights.safetensors").write_bytes(b"other bytes")
    assert read_manifest(tmp_path, verify=False).method == "stfpm"
    with pytest.raises(InputError, match="weights.safetensors: changed since the model was saved"):
        read_manifest(tmp_path)


def test_thresholds_per_category_fall_back_to_the_overall_one(tmp_path: Path) -> None:
    assert THRESHOLDS.for_category("tile") == 0.6 and THRESHOLDS.for_category("cup") == 0.5
    assert THRESHOLDS.required("map_low", tmp_path / MANIFEST) == 0.01
    with pytest.raises(InputError, match="manifest.json: has no 'image' threshold"):
        Thresholds().required("image", tmp_path / MANIFEST)


def test_the_threshold_chooser_applies_the_one_rule_per_category_and_overall() -> None:
    rng = np.random.default_rng(0)
    quiet, loud = rng.normal(1.0, 0.1, 30), rng.normal(10.0, 1.0, 20)
    chooser = ThresholdChooser()
    chooser.add("quiet", quiet, np.full((30, 16, 16), 0.2))
    chooser.add("loud", loud, np.full((20, 16, 16), 0.4))
    chosen = chooser.thresholds()
    assert chosen.per_category == {"quiet": threshold_from_normal_scores(quiet),
                                   "loud": threshold_from_normal_scores(loud)}
    assert chosen.image == threshold_from_normal_scores(np.concatenate([quiet, loud]))
    assert chosen.heldout_score_max == loud.max() and chosen.map_low == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no normal images the model was not fitted on"):
        ThresholdChooser().thresholds()

