"""The Quantize page driven through its widgets on a tiny real model: one INT8 PTQ variant measured to the end and
shown in the table and the plot, "Make live" switching the window's active model, Cancel during "Compare all",
and the rows coming back when the model is opened again."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from app.pages.quantize_page import COMPARISON_FILE, QuantizePage
from app.settings import AppSettings
from app.widgets.variant_table import COLUMNS
from core.export.variants import VariantSpec

INT8 = VariantSpec("int8", "ptq", "random-normal", "cpu", calibration_samples=4)


@pytest.fixture
def window(qtbot, settings: AppSettings, tiny_model: Path) -> MainWindow:
    main = MainWindow(settings, model_dir=tiny_model, autostart=False)
    qtbot.addWidget(main, before_close_func=lambda widget: widget.shutdown())
    main.show()
    main.pages.setCurrentWidget(main.quantize_page)
    qtbot.waitUntil(lambda: main.quantize_page.model_dir == tiny_model, timeout=30_000)
    return main


def _column(name: str) -> int:
    return COLUMNS.index(name)


def test_one_int8_variant_runs_to_the_end_and_can_be_made_live(qtbot, window: MainWindow, tiny_model: Path) -> None:
    page = window.quantize_page
    assert [window.pages.tabText(index) for index in range(window.pages.count())][1:4] == \
        ["Train", "Quantize", "Export"]
    assert page.data == [tiny_model.parent / "data" / "stripes"]  # the folders the model was trained from
    page.options.set_choice(INT8)
    assert page.options.spec() == INT8
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    assert page.busy and page.cancel_button.isEnabled() and not page.run_button.isEnabled()
    qtbot.waitUntil(lambda: not page.busy, timeout=60_000)

    assert page.banner.text() == "" and page.stage_label.text() == "Done: 1 of 1 variant(s) measured"
    name = "int8-ptq-random-normal-cpu"
    row = [page.table.cell_text(0, column) for column in range(len(COLUMNS) - 1)]
    assert page.table.rowCount() == 1 and row[:4] == [name, "INT8", "PTQ", "random-normal"]
    assert 0.0 <= float(row[_column("Image AUROC")]) <= 1.0 and float(row[_column("Latency ms")]) > 0
    bundle = page.table.bundles[name]
    assert bundle == page.variants_dir(tiny_model) / name and (bundle / "model.onnx").is_file()
    assert float(row[_column("Size MB")]) == pytest.approx((bundle / "model.onnx").stat().st_size / 1e6, abs=0.01)
    assert row[_column("Drift")].endswith("%")
    assert row[_column("Flips")] == "—"  # no FP32 row yet to compare verdicts with
    assert set(page.plot.points) == {name}
    saved = json.loads((page.variants_dir(tiny_model) / COMPARISON_FILE).read_text())
    assert saved["model"] == str(tiny_model) and list(saved["variants"]) == [name]

    qtbot.mouseClick(page.table.live_button(0), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.runtime.model_dir == bundle, timeout=30_000)
    qtbot.waitUntil(lambda: window.inspect_page.runtime.model_dir == bundle, timeout=10_000)
    assert window.model.runtime.precision == "int8"
    assert page.table.live_button(0).text() == "Live" and not page.table.live_button(0).isEnabled()
    assert page.model_dir == tiny_model  # a live variant's source model stays the one to quantize
    assert page.plot.live == name and "is live" in page.stage_label.text()
    assert page.run_button.isEnabled()


def test_cancel_during_compare_all_keeps_the_rows_measured(qtbot, window: MainWindow) -> None:
    page = window.quantize_page
    page.options.samples.setValue(4)
    assert page.compare_all()
    # FP32, FP16, INT8-PTQ calibrated on training images and on random-normal inputs (PatchCore's thresholds are
    # out of fold: no image is held out to calibrate on); no QAT for PatchCore
    assert page._planned == 4
    qtbot.waitUntil(lambda: page.table.rowCount() == 1, timeout=60_000)
    qtbot.waitUntil(lambda: "Variant 2 of 4" in page.stage_label.text(), timeout=10_000)
    started = time.perf_counter()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.busy, timeout=5_000)
    assert time.perf_counter() - started < 2.0
    assert page.stage_label.text().startswith("Cancelled") and page.run_button.isEnabled()
    assert page.table.rowCount() == 1 and page.table.cell_text(0, 0) == "fp32-cpu"
    saved = json.loads((page.variants_dir(page.model_dir) / COMPARISON_FILE).read_text())
    assert list(saved["variants"]) == ["fp32-cpu"]  # the cancelled variant left no row behind


def test_rows_come_back_and_a_missing_data_folder_is_reported(qtbot, settings: AppSettings, tiny_model: Path,
                                                              tmp_path: Path) -> None:
    from app.model_state import QtActiveModel

    model = QtActiveModel()
    first = QuantizePage(settings, model)
    qtbot.addWidget(first)
    model.load(tiny_model)
    qtbot.waitUntil(lambda: first.model_dir == tiny_model, timeout=30_000)
    bundle = tmp_path / "somewhere"
    bundle.mkdir()
    row = {"precision": "fp16", "method": "none", "calibration": None, "target": "cpu",
           "mean": {"image_auroc": 0.9, "pixel_auroc": None, "pixel_f1_max": 0.5}, "categories": {},
           "latency_ms_median": 3.0, "file_bytes": 2_000_000, "fp32_drift": None, "bundle": str(bundle)}
    from app.pages.quantize_page import save_comparison

    save_comparison(first.variants_dir(tiny_model), tiny_model, {"fp16-cpu": row})
    second = QuantizePage(settings, model)  # opened again: the saved rows are shown
    qtbot.addWidget(second)
    assert second.table.rowCount() == 1
    assert [second.table.cell_text(0, column) for column in (0, 4, 5, 7, 8, 9)] == \
        ["fp16-cpu", "0.900", "n/a", "3.00", "2.00", "n/a"]
    second.set_data([tmp_path / "gone"])
    assert not second.run_variant() and "gone: choose a folder with labelled test images" in second.banner.text()


def test_the_flips_cell_counts_and_lists_the_images_whose_verdict_changed(qtbot) -> None:
    from app.widgets.variant_table import QtVariantTable

    table = QtVariantTable()
    qtbot.addWidget(table)
    flips = {"against": "fp32-cpu", "count": 2, "images": [
        {"path": "/data/bottle/test/broken_large/003.png", "category": "bottle", "fp32": "NG", "variant": "OK",
         "fp32_score": 1.2, "score": 0.9},
        {"path": "/data/bottle/test/good/011.png", "category": "bottle", "fp32": "OK", "variant": "NG",
         "fp32_score": 0.7, "score": 1.1}]}
    table.show_variants({"fp32-cpu": {"precision": "fp32"}, "int8-ptq-train-cpu": {"precision": "int8",
                                                                                 "verdict_flips": flips}})
    column = COLUMNS.index("Flips")
    assert (table.cell_text(0, column), table.cell_text(1, column)) == ("—", "2")
    tooltip = table.item(1, column).toolTip()
    assert "broken_large/003.png: FP32 NG -> OK" in tooltip and "good/011.png: FP32 OK -> NG" in tooltip
