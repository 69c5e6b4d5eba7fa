"""Teach by correction on tiny real models (64 px, random weights, ONNX Runtime): PatchCore's bank and PaDiM's
Gaussians learn a frame marked good as a new version, a rollback restores version 1, and a teach that would pass
a known defect is refused with the directory left byte for byte as it was."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import make_mvtec_category
from core.audit.frames import raw_frame_path
from core.audit.records import CONFIRMED_NG, ModelIdentity, Verdict, utc_now
from core.audit.store import AuditStore
from core.cli import main
from core.data.images import read_image, resize_image
from core.inference import to_pixels
from core.jobs import CancelToken, run_to_end
from core.methods.config import ModelConfig
from core.methods.padim.fit import fit_gaussians
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.padim.teach import teach_gaussians
from core.methods.patchcore.teach import bank_spacing, teach_memory_bank
from core.model_manifest import WEIGHTS, read_manifest
from core.model_store import load_model
from core.model_versions import read_log, read_versions, rollback, version_dir
from core.teaching.images import Frame, frames_from_paths
from core.teaching.job import teach_job
from core.training import train_job


def _train(root: Path, method: str) -> tuple[Path, Path, Path]:
    """(model directory, its category, a stranger's good image: normal, but unlike anything the model saw)."""
    category = make_mvtec_category(root / "data", "stripes", train=8, good=2, bad=2, seed=1)
    stranger = make_mvtec_category(root / "other", "stripes", train=1, good=0, bad=0, seed=7)
    # A quarter of the patches in PatchCore's bank: at 1 % these 8 images would leave it 5 entries.
    settings = PatchcoreSettings(coreset_ratio=0.25) if method == "patchcore" else None
    config = ModelConfig(method=method, image_size=64, settings=settings)
    model = run_to_end(train_job(config, [category], root / "model", weights="random", threshold_folds=0)).model_dir
    return model, category, stranger / "train" / "good" / "000.png"


@pytest.fixture(scope="module", params=["patchcore", "padim"])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return _train(tmp_path_factory.mktemp(request.param), request.param)


@pytest.fixture
def line(trained: tuple[Path, Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A fresh copy of the trained model for each test (tests change it)."""
    model, category, stranger = trained
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    return copy, category, stranger


def tree_digest(folder: Path) -> dict[str, str]:
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("trained", ["padim"], indirect=True)  # PatchCore's: through the command, below
def test_teach_lowers_the_frames_score_and_writes_version_2(line: tuple[Path, Path, Path]) -> None:
    model, _, stranger = line
    first_weights = read_manifest(model).files[WEIGHTS]
    frames = frames_from_paths([stranger], ["stripes"], "stripes")
    result = run_to_end(teach_job(model, frames, audit_db=None))
    assert result.version == 2 and not result.refused
    (frame,) = result.frames
    assert frame.after < frame.before and frame.after < frame.threshold
    assert [version.number for version in read_versions(model)] == [1, 2]
    assert read_log(model).current == 2
    assert read_manifest(version_dir(model, 1)).files[WEIGHTS] == first_weights
    assert read_manifest(model).files[WEIGHTS] == read_manifest(version_dir(model, 2)).files[WEIGHTS] != first_weights
    assert result.check is not None and result.check.checked == 2 and result.check.passed  # the two test spots

    entry = rollback(model, 1)
    assert (entry.number, entry.reason, entry.parent) == (3, "rollback to 1", 1)
    assert read_manifest(model).files[WEIGHTS] == first_weights
    assert [version.number for version in read_versions(model)] == [1, 2, 3]


@pytest.mark.parametrize("trained", ["patchcore"], indirect=True)
def test_the_teach_command_reports_scores_and_check_and_refuses_a_flip_writing_nothing(
        line: tuple[Path, Path, Path], capsys: pytest.CaptureFixture) -> None:
    model, category, stranger = line
    first_weights = read_manifest(model).files[WEIGHTS]
    teach = ["teach", "--model", str(model), "--no-audit"]
    assert main([*teach, "--good", str(stranger), "--category", "stripes", "--reason", "new supplier"]) == 0
    out = capsys.readouterr().out.splitlines()
    scores = re.fullmatch(rf"{re.escape(str(stranger))}  stripes: (\S+) (OK|NG) -> (\S+) OK \(threshold (\S+)\)",
                          out[0])
    assert scores is not None and float(scores[3]) < float(scores[1])  # the frame's score fell, below threshold
    assert out[1] == "check: 2 known defects re-scored (2 test set), none turned OK"  # no audit trail here
    assert out[2].startswith("version 2 made (")

    # An operator confirmed this frame NG on the line: teaching it as good would pass it, so that is refused.
    defect = category / "test" / "spot" / "000.png"
    db = model.parent / "station" / "audit.sqlite"
    identity = ModelIdentity("ab" * 32, "fp32", str(model))
    with AuditStore(db) as store:
        store.add([Verdict(utc_now(), "csi://0", 7, "csi #7", "stripes", 9.0, 1.0, "NG", identity,
                           "audit-frames/000007.jpg")])
        store.set_action([1], CONFIRMED_NG)
    kept = raw_frame_path(db, "audit-frames/000007.jpg")
    kept.parent.mkdir(parents=True)
    shutil.copy(defect, kept)
    before, beside = tree_digest(model), sorted(path.name for path in model.parent.iterdir())
    assert main(["teach", "--model", str(model), "--audit", str(db), "--good", str(defect)]) == 1
    captured = capsys.readouterr()
    assert "(2 test set, 1 confirmed NG), 2 would turn OK: " in captured.out
    assert captured.err.startswith("refused, nothing written: 2 known defect(s) would turn OK: " + str(defect))
    assert str(kept) in captured.err
    assert tree_digest(model) == before  # no version, no log change
    assert sorted(path.name for path in model.parent.iterdir()) == beside  # no scratch folder left beside it

    assert main(["versions", "--model", str(model)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("*   2  ") and listed[0].endswith("new supplier  (from 1)")
    assert listed[1].startswith("    1  ") and "trained" in listed[1]
    assert main(["versions", "--model", str(model), "--rollback", "7"]) == 2
    assert "version 7: no such version (this model has 1, 2)" in capsys.readouterr().err
    assert read_manifest(model).files[WEIGHTS] != first_weights
    assert main(["versions", "--model", str(model), "--rollback", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"version 3 is current: rollback to 1 (weights {first_weights[:12]})")
    assert read_manifest(model).files[WEIGHTS] == first_weights


@pytest.mark.parametrize("trained", ["patchcore"], indirect=True)
def test_patchcore_covers_the_frame_to_the_banks_own_spacing(trained: tuple[Path, Path, Path]) -> None:
    model, _, stranger = trained
    loaded = load_model(model)
    spacing, entries = bank_spacing(loaded.network), len(loaded.network.memory_bank)
    pixels = to_pixels(resize_image(read_image(stranger), 64)[None])
    with torch.no_grad():
        before = float(loaded.network(pixels.float())[0])
    run_to_end(teach_memory_bank(loaded.network, pixels, torch.tensor([0]), None, loaded.config, CancelToken()))
    with torch.no_grad():
        after = float(loaded.network(pixels.float())[0])
    assert len(loaded.network.memory_bank) > entries
    assert after <= spacing + 1e-4 < before


@pytest.mark.parametrize("trained", ["padim"], indirect=True)
def test_padim_teach_equals_fitting_with_the_frame(trained: tuple[Path, Path, Path]) -> None:
    """The exact update: teaching one image gives the Gaussians a fit on the training images plus it gives."""
    model, category, _ = trained
    loaded = load_model(model)  # its backbone; the Gaussians are fitted again below
    images = to_pixels(np.stack([read_image(path) for path in sorted((category / "train" / "good").glob("*.png"))]))
    taught, reference = loaded.network, copy.deepcopy(loaded.network)
    run_to_end(fit_gaussians(taught, images[:-1], loaded.config, CancelToken()))
    run_to_end(teach_gaussians(taught, images[-1:], torch.tensor([0]), [len(images) - 1], loaded.config,
                               CancelToken()))
    run_to_end(fit_gaussians(reference, images, loaded.config, CancelToken()))
    assert torch.allclose(taught.mean, reference.mean, atol=1e-5)
    scale = reference.precision.abs().max()
    assert torch.allclose(taught.precision, reference.precision, atol=2e-3 * float(scale))
