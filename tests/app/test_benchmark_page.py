"""The Benchmark page in the real window on a results folder written here (records per the results.json format,
models that are copies of a tiny real model): the table and its sorting, the Pareto marks in the table and the
plots, the figures, a chosen cell made the live model of the Inspect page, refusals of bad folders and forms,
and a grid started and cancelled through the engine's runner."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from app.pages.benchmark_page import BenchmarkPage
from app.screenshots import save
from app.widgets.benchmark_table import FRONT_MARK, HEADERS
from app.widgets.grid_form import GridRequest, checked_names
from tests.app.app_testkit import make_category
from tests.core.benchmark.benchmark_testkit import make_record, write_results

REPO = Path(__file__).resolve().parents[2]
# Fastest to slowest; "padim" is the most accurate per pixel, "small" the lightest, "stfpm" wins on nothing.
FRONT = {"patchcore/tf_efficientnet_lite0/equiv/unified", "padim/tf_efficientnet_lite0/equiv/unified",
         "paste/tf_efficientnet_lite0/equiv/unified"}


def bench_records(models: Path, tiny_model: Path) -> list[dict]:
    """Five cells: three on the front, one dominated, one failed, one missing its latency."""
    for name in ("paste", "stfpm"):
        shutil.copytree(tiny_model, models / name)
    return [
        make_record("paste", f1=0.55, latency_fp32=6.0, memory_mb=4.0, macs=250_000_000,
                    model_dir=str(models / "paste")),
        make_record("stfpm", f1=0.50, latency_fp32=9.0, memory_mb=5.0, macs=330_000_000,
                    model_dir=str(models / "stfpm")),
        make_record("patchcore", f1=0.45, latency_fp32=3.0, memory_mb=30.0, macs=230_000_000, training_macs=None),
        make_record("padim", f1=0.60, latency_fp32=12.0, memory_mb=48.0, macs=220_000_000, training_macs=None),
        make_record("cfa", status="failed"),
        make_record("rd", f1=0.9, latency_fp32=None, memory_mb=1.0),
    ]


@pytest.fixture
def results(tmp_path: Path, tiny_model: Path) -> Path:
    return write_results(tmp_path / "grid", bench_records(tmp_path / "grid" / "models", tiny_model))


@pytest.fixture
def page(window: MainWindow) -> BenchmarkPage:
    window.pages.setCurrentWidget(window.benchmark_page)
    return window.benchmark_page


def test_the_table_fills_from_a_results_folder_and_marks_the_pareto_front(qtbot, page: BenchmarkPage,
                                                                           results: Path) -> None:
    assert page.open_results(results)
    table = page.table
    assert table.rowCount() == 6 and page.banner.text() == ""
    rows = {table.item(row, 0).data(Qt.ItemDataRole.UserRole): row for row in range(table.rowCount())}
    starred = {name for name, row in rows.items() if table.cell_text(row, "Pareto") == FRONT_MARK}
    assert starred == FRONT == page.front
    paste = rows["paste/tf_efficientnet_lite0/equiv/unified"]
    assert [table.cell_text(paste, header) for header in HEADERS[1:]] == [
        "paste", "tf_efficientnet_lite0", "equiv (3, 9, 14)", "unified", "0.900", "0.950", "0.550", "0.800",
        "4.00", "250.0", "6.00", "6.00", "done"]
    failed = rows["cfa/tf_efficientnet_lite0/equiv/unified"]
    assert table.cell_text(failed, "Status") == "failed" and table.cell_text(failed, "Pixel F1-max") == "n/a"
    assert "out of memory" in table.item(failed, HEADERS.index("Method")).toolTip()
    # The plots draw the done cells that have the plot's two values, and ring the front.
    assert set(page.plots.points["latency"]) == {name for name in rows if name.split("/")[0] in
                                                 ("paste", "stfpm", "patchcore", "padim")}
    assert "rd/tf_efficientnet_lite0/equiv/unified" in page.plots.points["memory"]
    assert page.plots.points["memory"]["padim/tf_efficientnet_lite0/equiv/unified"] == (48.0, 0.60)
    assert page.plots.front == FRONT
    # The form now resumes that grid.
    assert page.form.out.text() == str(results) and page.start_button.text() == "Resume"
    assert set(checked_names(page.form.methods)) == {"paste", "stfpm", "patchcore", "padim", "cfa", "rd"}
    assert page.form.data_folders() == (Path("/data/bottle"),)
    assert "6 cell(s), 5 done, 1 failed; 3 on the Pareto front" in page.summary.text()

    # Sorting by a number column sorts numbers, and cells without the number come last.
    qtbot.mouseClick(table.horizontalHeader().viewport(), Qt.MouseButton.LeftButton,
                     pos=_header_centre(table, "FP32 ms"))
    latencies = [table.cell_text(row, "FP32 ms") for row in range(table.rowCount())]
    assert latencies == ["3.00", "6.00", "9.00", "12.00", "n/a", "n/a"]

    # Another accuracy moves the front: by image AUROC (all 0.9) the cheapest cells win.
    page.accuracy.setCurrentIndex(page.accuracy.findData("image_auroc"))
    assert page.front == {"patchcore/tf_efficientnet_lite0/equiv/unified",
                          "paste/tf_efficientnet_lite0/equiv/unified"}


def _header_centre(table, header: str):  # noqa: ANN001, ANN202
    from PySide6.QtCore import QPoint

    bar = table.horizontalHeader()
    column = HEADERS.index(header)
    return QPoint(bar.sectionViewportPosition(column) + bar.sectionSize(column) // 2, bar.height() // 2)


def test_the_figures_are_drawn_beside_the_results_and_shown(qtbot, page: BenchmarkPage, results: Path) -> None:
    assert page.open_results(results)
    qtbot.waitUntil(lambda: page.figure_worker is None and bool(page.gallery.files), timeout=60_000)
    assert [path.name for path in page.gallery.files] == [
        "fig1_f1_vs_memory.png", "accuracy_vs_latency.png", "fig6_paste_vs_stfpm.png"]
    assert all(path.parent == results for path in page.gallery.files)
    drawn = {path: path.stat().st_mtime_ns for path in page.gallery.files}
    page.open_results(results)  # up to date: shown again, not drawn again
    qtbot.waitUntil(lambda: page.figure_worker is None, timeout=60_000)
    assert {path: path.stat().st_mtime_ns for path in page.gallery.files} == drawn


def test_a_chosen_cell_becomes_the_live_model_of_the_inspect_page(qtbot, window: MainWindow, page: BenchmarkPage,
                                                                   results: Path, tiny_model: Path) -> None:
    assert window.model.runtime.model_dir == tiny_model
    assert page.open_results(results)
    assert not page.use_button.isEnabled()  # nothing chosen yet
    assert page.choose("cfa/tf_efficientnet_lite0/equiv/unified")
    assert not page.use_button.isEnabled() and "no model to use" in page.chosen_label.text()
    assert page.choose("patchcore/tf_efficientnet_lite0/equiv/unified")  # done, but its model is not recorded
    assert not page.use_button.isEnabled()
    page.plots.chosen.emit("paste/tf_efficientnet_lite0/equiv/unified")  # what a click on its point sends
    assert page.table.chosen_name() == page.plots.selected == "paste/tf_efficientnet_lite0/equiv/unified"
    assert "on the Pareto front" in page.chosen_label.text() and page.use_button.isEnabled()
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    chosen = results / "models" / "paste"
    qtbot.waitUntil(lambda: window.model.runtime.model_dir == chosen, timeout=30_000)
    qtbot.waitUntil(lambda: window.inspect_page.runtime.model_dir == chosen, timeout=10_000)
    assert page.stage_label.text() == "paste is live: the Inspect page runs it now"


def test_a_results_folder_moved_elsewhere_still_finds_its_models(page: BenchmarkPage, results: Path,
                                                                 tmp_path: Path) -> None:
    moved = shutil.move(results, tmp_path / "copied-from-the-cluster")
    assert page.open_results(Path(moved)) and page.choose("stfpm/tf_efficientnet_lite0/equiv/unified")
    assert page.use_button.isEnabled()


def test_bad_folders_and_incomplete_forms_are_refused_with_a_message(page: BenchmarkPage, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not page.open_results(empty)
    assert page.banner.text() == f"{empty}: no results.json here, so not a benchmark results folder"
    (empty / "results.json").write_text('{"format": 7, "cells": []}')
    assert not page.open_results(empty)
    assert page.banner.text().startswith(f"{empty / 'results.json'}: not a") and "format" in page.banner.text()
    (empty / "results.json").write_text("{not json")
    assert not page.open_results(empty)
    assert page.banner.text().startswith(f"{empty / 'results.json'}: ") and "readable" in page.banner.text()
    page.form.folders.clear()
    assert not page.start() and page.banner.text() == "Data: add at least one category folder"
    page.form.add_folders([tmp_path])
    page.form.out.setText("")
    assert not page.start() and page.banner.text().startswith("Output: choose a results folder")
    page.form.out.setText(str(tmp_path / "out"))
    for row in range(page.form.methods.count()):
        page.form.methods.item(row).setCheckState(Qt.CheckState.Unchecked)
    assert not page.start() and page.banner.text() == "Methods: tick at least one"
    assert not page.busy


def test_the_form_gives_back_what_it_was_given(page: BenchmarkPage, tmp_path: Path) -> None:
    request = GridRequest((tmp_path,), ("stfpm", "padim"), ("tf_efficientnet_lite0",), ("low", "equiv"),
                          ("unified", "per-category"), 64, 3, tmp_path / "out", "ray", "10.0.0.5:6379", 4)
    page.form.set_request(request)
    assert page.form.request() == request
    assert page.form.request().spec == {"data": (tmp_path,), "methods": ("stfpm", "padim"),
                                        "backbones": ("tf_efficientnet_lite0",), "layer_groups": ("low", "equiv"),
                                        "settings": ("unified", "per-category"), "image_size": 64, "epochs": 3}


def test_a_screenshot_of_the_page(page: BenchmarkPage, window: MainWindow, results: Path, tmp_path: Path) -> None:
    window.resize(1500, 950)
    assert page.open_results(results) and page.choose("paste/tf_efficientnet_lite0/equiv/unified")
    shot = save(window, tmp_path / "benchmark_page.png")
    from PIL import Image

    with Image.open(shot) as image:
        grey = np.asarray(image.convert("L"))
    assert grey.shape[1] >= 1400 and np.unique(grey).size > 50  # drawn, not blank


def test_opening_the_window_loads_neither_matplotlib_nor_the_benchmark() -> None:
    """The window's start-up time and memory are measured (issue 14): the page pays only when used."""
    code = ("import sys; import app.main_window; "
            "print(sorted(name for name in sys.modules if name.startswith(('matplotlib', 'core.benchmark.'))))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                            env={"PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}, check=True).stdout
    assert output.strip() == "[]"  # the page is built, and imports them, when its tab is first opened


def cell_processes() -> list[psutil.Process]:
    """The grid's cell processes under this test process (each cell trains in a process of its own)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "core.benchmark.cell" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:  # ended meanwhile
            pass
    return found


def test_a_grid_started_from_the_page_can_be_cancelled(qtbot, page: BenchmarkPage, tmp_path: Path) -> None:
    pytest.importorskip("core.benchmark.runner", reason="the grid runner (branch grid) is not merged yet")
    data = make_category(tmp_path / "data", "stripes")
    page.weights = "random"
    page.form.set_request(GridRequest((data,), ("stfpm", "paste"), ("tf_efficientnet_lite0",), ("equiv",),
                                      ("unified",), 64, 50, tmp_path / "grid"))
    assert page.start_button.text() == "Start"
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert page.busy and page.cancel_button.isEnabled() and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: bool(cell_processes()) or not page.busy, timeout=60_000)
    assert page.busy and page.progress.maximum() == 2, page.banner.text()  # the first cell is training
    started = time.perf_counter()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.busy, timeout=10_000)
    assert time.perf_counter() - started < 5
    assert page.stage_label.text().startswith("Cancelled") and page.start_button.isEnabled()
    assert cell_processes() == []  # stopped by the runner, not left training
    assert page.banner.text() == "" and page.table.rowCount() == 0  # no cell finished


def test_a_one_cell_grid_runs_to_the_end_and_its_model_can_be_made_live(qtbot, window: MainWindow,
                                                                       page: BenchmarkPage, tmp_path: Path) -> None:
    pytest.importorskip("core.benchmark.runner", reason="the grid runner (branch grid) is not merged yet")
    data = make_category(tmp_path / "data", "stripes")
    page.weights = "random"
    page.form.set_request(GridRequest((data,), ("patchcore",), ("tf_efficientnet_lite0",), ("equiv",),
                                      ("unified",), 64, None, tmp_path / "grid"))
    assert page.start()
    qtbot.waitUntil(lambda: not page.busy, timeout=600_000)
    assert page.banner.text() == "" and page.stage_label.text() == "Done: 1 cell(s)"
    name = "patchcore/tf_efficientnet_lite0/equiv/unified"
    assert page.table.rowCount() == 1 and page.table.cell_text(0, "Status") == "done"
    assert float(page.table.cell_text(0, "FP32 ms")) > 0 and page.front == {name}
    qtbot.waitUntil(lambda: page.figure_worker is None and bool(page.gallery.files), timeout=60_000)
    assert {path.name for path in page.gallery.files} == {"fig1_f1_vs_memory.png", "accuracy_vs_latency.png"}
    assert page.choose(name) and page.use_button.isEnabled() and page.start_button.text() == "Resume"
    qtbot.mouseClick(page.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.inspect_page.runtime.model_dir.parent == tmp_path / "grid" / "models",
                    timeout=30_000)
