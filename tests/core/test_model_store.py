"""Model directories: atomic writes, verification on load, clear refusals."""

from __future__ import annotations

import json

import pytest

from core.errors import Cancelled, InputError
from core.jobs import CancelToken, run_to_end
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.stfpm.settings import StudentSettings
from core.model_manifest import FORMAT_VERSION, ModelManifest, read_manifest
from core.model_store import load_model, write_directory_atomically
from core.training import train_job

CONFIG = ModelConfig(method="patchcore", image_size=64, settings=PatchcoreSettings(coreset_ratio=0.2))


@pytest.fixture
def trained(tiny_categories, tmp_path):
    return run_to_end(train_job(CONFIG, tiny_categories, tmp_path / "model", weights="random")).model_dir


def test_manifest_says_what_made_the_model(trained) -> None:
    manifest = read_manifest(trained)
    assert json.loads((trained / "manifest.json").read_text())["format_version"] == FORMAT_VERSION == 2
    assert manifest.method == "patchcore" and manifest.backbone == "tf_efficientnet_lite0"
    assert manifest.layers == (5, 11) and manifest.image_size == 64
    assert set(manifest.files) == {"weights.safetensors", "model.onnx"}
    assert len(manifest.data_fingerprint) == 64
    assert manifest.normalisation.mean == (127.5, 127.5, 127.5)
    assert {"torch", "timm", "python"} <= set(manifest.library_versions)
    # PatchCore's thresholds come from out-of-fold scores of every normal image: nothing is held out, and the
    # manifest says how each threshold was chosen.
    assert (manifest.holdout_fraction, manifest.split_seed) == (0.0, CONFIG.seed)
    assert {basis.source for basis in manifest.thresholds.basis.values()} == {"out-of-fold"}
    assert {len(scores) for scores in manifest.thresholds.normal_scores.values()} == {12}
    assert set(manifest.thresholds.per_category) == {"stripes", "waves"}
    assert ModelManifest.from_json(manifest.to_json(), trained) == manifest  # written as read


def test_a_changed_file_is_refused(trained) -> None:
    weights = trained / "weights.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError, match="weights.safetensors: changed since the model was saved"):
        load_model(trained)


def test_a_newer_format_is_refused(trained) -> None:
    manifest = json.loads((trained / "manifest.json").read_text())
    manifest["format_version"] = 99
    (trained / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="format version 99 is not supported"):
        load_model(trained)


def test_not_a_model_directory(tmp_path) -> None:
    with pytest.raises(InputError, match="not a model directory"):
        load_model(tmp_path)


def test_cancelled_training_leaves_the_previous_model(trained, tiny_categories) -> None:
    before = (trained / "weights.safetensors").read_bytes()
    token = CancelToken()
    job = train_job(ModelConfig(method="stfpm", image_size=64, settings=StudentSettings(epochs=50)), tiny_categories, trained, token,
                    weights="random")
    with pytest.raises(Cancelled):
        for record in job:
            if record.stage == "train":
                token.cancel()
    assert (trained / "weights.safetensors").read_bytes() == before
    assert load_model(trained).config.method == "patchcore"
    assert not [p for p in trained.parent.iterdir() if p.name.endswith(".partial")]


def test_failed_write_removes_its_temporary_directory(tmp_path) -> None:
    def fail(directory):
        (directory / "half.bin").write_bytes(b"x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_directory_atomically(tmp_path / "model", fail)
    assert list(tmp_path.iterdir()) == []
