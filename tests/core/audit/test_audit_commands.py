"""`inspect` records every verdict, `history` counts and exports them, `self-test` scores the registered parts:
the real commands on a tiny real model (PatchCore, 64 px, random weights) with ONNX Runtime."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import make_mvtec_category
from core.audit.location import parts_folder
from core.audit.store import AuditStore
from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.training import train_job


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model directory, its category folder)."""
    root = tmp_path_factory.mktemp("audit-line")
    category = make_mvtec_category(root / "data", "stripes", seed=3)
    # Every training patch in the bank: a training image scores about 0, so it is a known good part for certain.
    config = ModelConfig(method="patchcore", image_size=64, settings=PatchcoreSettings(coreset_ratio=1.0))
    # Held-out thresholds: with random weights, out-of-fold scores of normal stripes reach the painted spots' level.
    return run_to_end(train_job(config, [category], root / "model", weights="random",
                                threshold_folds=0)).model_dir, category


def test_inspect_records_verdicts_and_history_reports_them(line: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    model, category = line
    db = tmp_path / "audit.sqlite"
    inspect = ["inspect", "--model", str(model), "--audit", str(db), "--max-frames", "3"]  # a folder is watched
    assert main([*inspect, "--source", f"file://{category / 'test' / 'good'}/", "--threshold", "1e9"]) == 0
    assert main([*inspect, "--source", f"file://{category / 'test' / 'spot'}/", "--threshold", "0"]) == 0
    assert f"recording verdicts in {db}" in capsys.readouterr().err
    with AuditStore(db) as store:
        rows = store.verdicts()
    assert len(rows) == 6 and {row.category for row in rows} == {"stripes"}
    assert [row.verdict for row in rows[:3]] == ["NG"] * 3 and all(row.image_path for row in rows[:3])
    assert rows[0].source == f"file://{category / 'test' / 'spot'}/" and rows[0].frame_name.endswith(".png")
    graph_sha = json.loads((model / "manifest.json").read_text())["files"]["model.onnx"]
    assert (rows[0].model.sha256, rows[0].model.precision, rows[0].model.version) == (graph_sha, "fp32", 1)

    out = tmp_path / "ng.csv"
    assert main(["history", "--db", str(db), "--since", "1h", "--verdict", "ng", "--csv", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"3 verdicts from 20") and "wrote 3 verdicts" in printed
    assert "stripes" in printed and "last self-test: never" in printed
    table = list(csv.DictReader(out.open()))
    assert len(table) == 3 and all(Path(row["image"]).is_file() for row in table)
    assert main(["history", "--db", str(db), "--until", "1h"]) == 0
    assert capsys.readouterr().out.startswith("0 verdicts in")
    assert main(["history", "--db", str(db), "--model", rows[0].model.sha256[:8], "--category", "stripes"]) == 0
    assert capsys.readouterr().out.startswith("6 verdicts")

    assert main([*inspect, "--source", f"file://{category / 'test' / 'good'}/", "--no-audit"]) == 0
    with AuditStore(db) as store:
        assert len(store.verdicts()) == 6
    assert main(["history", "--db", str(db), "--since", "last tuesday"]) == 2
    assert "time 'last tuesday': neither a duration" in capsys.readouterr().err
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == 2


def test_self_test_registers_parts_scores_them_and_records_the_run(line: tuple[Path, Path], tmp_path: Path,
                                                                   audit_db: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    model, category = line
    goods = sorted((category / "train" / "good").glob("*.png"))[:2]  # in the memory bank: OK
    bads = sorted((category / "test" / "spot").glob("*.png"))[:2]
    assert main(["self-test", "--model", str(model), "--add-good", *map(str, goods), "--add-bad", *map(str, bads)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 4 and "self-test passed: 4 parts" in out
    assert sorted(path.relative_to(parts_folder(audit_db)).as_posix()
                  for path in parts_folder(audit_db).rglob("*.png")) == [
        "stripes/bad/000.png", "stripes/bad/001.png", "stripes/good/000.png", "stripes/good/001.png"]

    # A known good part that the model calls NG fails the test: exit status 1, and the run is recorded.
    wrong = tmp_path / "looks_good.png"
    shutil.copy(category / "test" / "spot" / "002.png", wrong)  # a defect, registered as good by mistake
    assert main(["self-test", "--model", str(model), "--add-good", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  stripes/good/looks_good.png  NG" in out and "expected OK" in out
    assert "self-test FAILED: 1 of 5 parts wrong" in out
    with AuditStore(audit_db) as store:
        time, passed = store.last_self_test()
        assert not passed and time.startswith("20")
        assert [part.passed for part in store.self_test_parts(2)].count(False) == 1

    assert main(["self-test", "--model", str(model), "--parts", str(tmp_path / "empty")]) == 2
    assert "no self-test parts registered for stripes" in capsys.readouterr().err
