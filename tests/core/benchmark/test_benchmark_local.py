"""The grid on the local executor, for real: each cell in its own process, measured columns, a broken cell retried
once and recorded while the others go on, and a second run that skips what is done."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import psutil
import pytest

from core.benchmark.grid import GridSpec
from core.benchmark.results import read_results
from core.benchmark.runner import run_grid
from core.cli import main
from core.errors import Cancelled
from core.jobs import CancelToken, run_to_end
from tests.conftest import make_mvtec_category
from tests.core.benchmark.conftest import GRID, records_of

STFPM, PASTE = "stfpm/tf_efficientnet_lite0/equiv/unified", "paste/tf_efficientnet_lite0/equiv/unified"


def test_every_cell_reports_measured_accuracy_and_resources(local_grid: Path, grid_data: list[Path]) -> None:
    records = records_of(local_grid)
    assert list(records) == [STFPM, PASTE]
    for record in records.values():
        assert record["status"] == "done" and record["attempts"] == 1 and record["error"] is None
        assert record["data"] == [str(path) for path in grid_data] and record["layers"] == [3, 9, 14]
        assert set(record["metrics"]["categories"]) == {"stripes", "waves"}
        assert 0 <= record["metrics"]["mean"]["pixel_auroc"] <= 1
        resources = record["resources"]
        assert resources["parameters"] > 1e6 and 1 < resources["memory_mb"] < 100
        assert resources["inference_macs"] > 1e6 and resources["training_macs_per_image"] > 1e6
        assert 1 < resources["training_step_mb_per_image"] < resources["peak_training_rss_mb"]
        assert resources["peak_training_rss_mb"] > 100 and resources["fit_seconds_per_image"] > 0
        assert resources["onnx_mb"] > 1 and resources["latency_ms"]["fp32"] > 0
        assert resources["latency_ms"]["int8"] > 0 and "int8_error" not in resources
        assert record["cpu"].startswith(("x86", "arm64"))
        assert Path(record["model_dir"], "manifest.json").is_file()  # OUT/models/<safe name>
    stfpm, paste = records[STFPM]["resources"], records[PASTE]["resources"]
    assert paste["training_macs_per_image"] < stfpm["training_macs_per_image"]
    assert paste["inference_macs"] < stfpm["inference_macs"]


def test_csv_and_report_are_written_beside_the_results(local_grid: Path) -> None:
    rows = list(csv.DictReader((local_grid / "results.csv").open()))
    assert [(row["name"], row["category"]) for row in rows] == [
        (name, category) for name in (STFPM, PASTE) for category in ("stripes", "waves", "mean")]
    report = (local_grid / "report.md").read_text()
    assert f"| {PASTE} | done |" in report and "## PaSTe against STFPM" in report
    assert "| tf_efficientnet_lite0 | equiv vs equiv | unified |" in report


def test_the_same_command_again_skips_the_done_cells(local_grid: Path, grid_data: list[Path]) -> None:
    before = (local_grid / "results.json").read_text()
    spec = GridSpec(data=tuple(grid_data), methods=("stfpm", "paste"), backbones=("tf_efficientnet_lite0",),
                    layer_groups=("equiv",), settings=("unified",), image_size=64, epochs=1, weights="random")
    messages = []
    records = run_to_end(run_grid(spec, local_grid), lambda progress: messages.append(progress.message))
    assert messages == ["2 of 2 cells done, 0 to run"]
    assert [record["name"] for record in records] == [STFPM, PASTE]
    assert (local_grid / "results.json").read_text() == before
    # The command line says the same and succeeds.
    assert main(["benchmark", "--data", *map(str, grid_data), *GRID, "--out", str(local_grid)]) == 0


def test_a_broken_cell_is_retried_once_and_recorded_while_the_others_go_on(tmp_path: Path) -> None:
    good = make_mvtec_category(tmp_path / "data", "good", seed=3)
    broken = tmp_path / "data" / "broken" / "train" / "good"
    broken.mkdir(parents=True)
    for index in range(12):
        (broken / f"{index:03d}.png").write_text("not an image")
    spec = GridSpec(data=(broken.parents[1], good), methods=("patchcore",), backbones=("tf_efficientnet_lite0",),
                    layer_groups=("patchcore",), settings=("per-category",), image_size=64, weights="random")
    records = run_to_end(run_grid(spec, tmp_path / "out", workers=2, cpus_per_cell=1, latency_runs=5))
    failed, done = records
    assert failed["name"].endswith("/per-category/broken") and failed["status"] == "failed"
    assert failed["attempts"] == 2 and failed["model_dir"] is None and failed["resources"] is None
    assert "broken/train/good" in failed["error"] and "normal images could be read" in failed["error"]
    assert done["status"] == "done" and done["attempts"] == 1
    assert done["resources"]["training_macs_per_image"] is None  # a memory bank trains nothing
    assert read_results(tmp_path / "out") == records
    assert "failed: " in (tmp_path / "out" / "report.md").read_text()


def test_cancelling_stops_the_running_cells_and_records_nothing(tmp_path: Path, grid_data: list[Path]) -> None:
    spec = GridSpec(data=tuple(grid_data), methods=("stfpm", "paste", "patchcore"), backbones=("tf_efficientnet_lite0",),
                    layer_groups=("equiv",), settings=("unified",), image_size=64, epochs=1, weights="random")
    token = CancelToken()
    job = run_grid(spec, tmp_path, workers=2, cancel=token, cpus_per_cell=1)
    assert next(job).message == "0 of 3 cells done, 3 to run"
    timer = threading.Timer(4.0, token.cancel)  # while the two cell processes import the engine
    started = time.monotonic()
    timer.start()
    with pytest.raises(Cancelled):
        next(job)
    assert time.monotonic() - started < 4.0 + 3  # the running cells were stopped, not waited for
    assert read_results(tmp_path) == [] and not (tmp_path / "models").exists()
    leftovers = [process for process in psutil.process_iter(["cmdline"])
                 if str(tmp_path) in " ".join(process.info["cmdline"] or [])]
    assert leftovers == []  # the cell processes were killed, not left running
