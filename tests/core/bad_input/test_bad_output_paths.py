"""Output paths that cannot be written: an existing file where a folder goes, a folder where a file goes, a place
below a file, a place nobody may write, or a folder of someone else's files. Each is refused before the job runs,
naming the path, and what was there is untouched."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from bad_input_testkit import error_line, run_cli, snapshot

UNWRITABLE = Path("/sys/inspection-station-test")  # sysfs refuses new entries, even to root (permission bits do not)


def _unwritable() -> Path:
    try:
        os.rmdir(tempfile.mkdtemp(dir=UNWRITABLE.parent))
    except OSError:
        return UNWRITABLE
    pytest.skip(f"{UNWRITABLE.parent} is writable here")


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("shift 2: line stopped at 14:05\n")
    return path


def train(category: Path, out: Path) -> list[object]:
    return ["train", "--data", category, "--method", "patchcore", "--image-size", 32, "--weights", "random",
            "--out", out]


def test_train_out_is_a_file(category: Path, a_file: Path) -> None:
    error_line(run_cli(*train(category, a_file)), "argument --out:", a_file, "is an existing file, not a folder")
    assert a_file.read_text().startswith("shift 2")


def test_train_out_below_a_file(category: Path, a_file: Path) -> None:
    error_line(run_cli(*train(category, a_file / "model")), "argument --out:", a_file, "is a file, so no folder")


def test_train_out_where_nobody_may_write(category: Path) -> None:
    out = _unwritable() / "model"
    error_line(run_cli(*train(category, out)), "argument --out:", out, "cannot write in /sys")


def test_train_out_is_a_folder_of_other_files(category: Path, tmp_path: Path) -> None:
    """Found before training (not after it, when the model would be thrown away); the folder is left as it was."""
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "week12.csv").write_text("part,verdict\n1,OK\n")
    before = snapshot(folder)
    error_line(run_cli(*train(category, folder)), folder, "exists and is not a model directory")
    assert snapshot(folder) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data", "reports"]  # no .partial sibling


def test_predict_out_is_a_file(tiny_model: Path, category: Path, a_file: Path) -> None:
    error_line(run_cli("predict", "--model", tiny_model, category / "test", "--out", a_file), "argument --out:",
               a_file, "is an existing file")


def test_evaluate_json_is_a_folder(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    error_line(run_cli("evaluate", "--model", tiny_model, "--data", category, "--json", tmp_path),
               "argument --json:", tmp_path, "is an existing folder, not a file")


def test_evaluate_json_below_a_file(tiny_model: Path, category: Path, a_file: Path) -> None:
    error_line(run_cli("evaluate", "--model", tiny_model, "--data", category, "--json", a_file / "r.json"),
               "argument --json:", a_file, "is a file")


def test_compare_json_where_nobody_may_write(tiny_model: Path, category: Path) -> None:
    report = _unwritable() / "compare.json"
    error_line(run_cli("compare", "--model", tiny_model, "--data", category, "--json", report), "argument --json:",
               "cannot write in /sys")


def test_export_out_is_a_file(tiny_model: Path, a_file: Path) -> None:
    error_line(run_cli("export", "--model", tiny_model, "--out", a_file), "argument --out:", a_file)


def test_export_out_is_the_model_itself(existing_model: Path) -> None:
    """A slip of the keyboard must not replace the model by its own bundle."""
    before = snapshot(existing_model)
    error_line(run_cli("export", "--model", existing_model, "--out", existing_model), existing_model,
               "exists and is not a deployment bundle")
    assert snapshot(existing_model) == before


def test_inspect_save_ng_is_a_file(tiny_model: Path, a_file: Path) -> None:
    error_line(run_cli("inspect", "--model", tiny_model, "--source", "demo://", "--save-ng", a_file),
               "argument --save-ng:", a_file)


def test_bench_live_json_is_a_folder(tiny_model: Path, tmp_path: Path) -> None:
    error_line(run_cli("bench-live", "--model", tiny_model, "--json", tmp_path), "argument --json:", tmp_path)


def test_deploy_log_dir_is_a_file(tiny_model: Path, a_file: Path) -> None:
    error_line(run_cli("deploy", "--model", tiny_model, "--host", "127.0.0.1", "--user", "nvidia", "--log-dir",
                       a_file), "argument --log-dir:", a_file)


def test_demo_out_is_a_file(a_file: Path) -> None:
    error_line(run_cli("demo", "--out", a_file), "argument --out:", a_file)
