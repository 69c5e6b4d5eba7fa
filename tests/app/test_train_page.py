"""The Train page driven through its widgets: folders in (dialog-free add and drag-and-drop), options from the
registries, training to the end with a responsive UI, results and ROC curves, cancel, and bad folders."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from app_testkit import make_category
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from app.main_window import MainWindow
from app.settings import AppSettings
from core.methods.registry import METHODS


@pytest.fixture
def window(qtbot, settings: AppSettings, tiny_model: Path) -> MainWindow:
    main = MainWindow(settings, model_dir=tiny_model, autostart=False)
    qtbot.addWidget(main, before_close_func=lambda widget: widget.shutdown())
    main.show()
    main.pages.setCurrentWidget(main.train_page)
    qtbot.waitUntil(lambda: main.inspect_page.runtime is not None, timeout=30_000)
    return main


def _drop_folders(table, folders: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder)) for folder in folders])
    table.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier))


def _table_row(page, row: int) -> list[str]:
    return [page.folders.item(row, column).text() for column in range(page.folders.columnCount())]


def test_training_to_the_end_keeps_the_ui_responsive_and_activates_the_model(qtbot, window: MainWindow,
                                                                            tmp_path: Path) -> None:
    page = window.train_page
    category = make_category(tmp_path / "data", "stripes", train=8)
    (category / "train" / "good" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    _drop_folders(page.folders, [category])
    qtbot.waitUntil(lambda: category in page.folders.scans, timeout=10_000)
    row = _table_row(page, 0)
    assert row[:4] == ["stripes", "mvtec", "9", "3 / 3"] and "broken.png" in row[4]

    page.options.set_choice("stfpm", "tf_efficientnet_lite0", 64, epochs=3)
    page.model_name.setText("trained-here")
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        if page.last_result is None:  # while the model trains (loading it afterwards is a separate, short step)
            gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    assert page.start_training()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=120_000)
    qtbot.waitUntil(lambda: page.last_evaluation is not None and not page.busy, timeout=120_000)
    timer.stop()
    # Training runs in a child process; the UI thread only reads its progress from a queue.
    assert len(gaps) > 20 and max(gaps) < 0.1, f"UI timer stalled for {max(gaps) * 1000:.0f} ms while training"

    model_dir = window.settings.models_folder / "trained-here"
    assert page.last_result.model_dir == model_dir and (model_dir / "model.onnx").is_file()
    assert len(page.loss_plot.losses) == 3  # 8 good images (one held out): one batch, so one step per epoch
    assert page.threshold_notes.text().startswith("threshold stripes ")
    assert page.threshold_notes.text().endswith(": chosen from 1 normal image (held out): the false-reject rate is "
                                                "below 90 % with 90 % confidence (target 1 %)")
    qtbot.waitUntil(lambda: window.inspect_page.runtime.model_dir == model_dir, timeout=30_000)
    assert page.results.cell_text(0, 0) == "stripes" and page.results.cell_text(1, 0) == "mean"
    assert 0.0 <= float(page.results.cell_text(0, 1)) <= 1.0  # image AUROC
    assert "stripes" in page.roc.curves
    assert "1 unreadable image(s) were skipped" in page.banner.text()


def test_cancel_midway_is_quick_and_keeps_the_previous_model(qtbot, window: MainWindow, tiny_model: Path,
                                                             tmp_path: Path) -> None:
    page = window.train_page
    page.add_folders([make_category(tmp_path / "data", "stripes", train=12)])
    qtbot.waitUntil(lambda: len(page.folders.scans) == 1, timeout=10_000)
    page.options.set_choice("stfpm", "tf_efficientnet_lite0", 64, epochs=200)
    page.model_name.setText("never-finished")
    assert page.start_training()
    qtbot.waitUntil(lambda: len(page.loss_plot.losses) >= 2, timeout=60_000)  # really training
    assert page.eta_label.text().startswith("ETA ")
    started = time.perf_counter()
    qtbot.mouseClick(page.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.busy, timeout=5_000)
    assert time.perf_counter() - started < 1.0
    assert "Cancelled" in page.stage_label.text() and page.train_button.isEnabled()
    assert not (window.settings.models_folder / "never-finished").exists()
    assert window.model.runtime.model_dir == tiny_model and window.inspect_page.runtime.model_dir == tiny_model


def test_bad_folders_are_reported(qtbot, window: MainWindow, tmp_path: Path) -> None:
    page = window.train_page
    page.add_folders([tmp_path / "missing"])
    qtbot.waitUntil(lambda: "missing: folder does not exist" in page.banner.text(), timeout=10_000)
    assert _table_row(page, 0)[1] == "unusable"
    assert not page.start_training() and "usable category folder" in page.banner.text()


def test_a_training_that_fails_says_why_in_the_window(qtbot, window: MainWindow, tmp_path: Path) -> None:
    page = window.train_page
    folder = tmp_path / "unreadable"
    folder.mkdir()
    for index in range(5):
        (folder / f"{index}.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    page.add_folders([folder])
    qtbot.waitUntil(lambda: len(page.folders.scans) == 1, timeout=10_000)
    assert _table_row(page, 0)[4].startswith("0.png")  # unreadable files listed before training
    page.options.set_choice("patchcore", "tf_efficientnet_lite0", 64)
    assert page.start_training()
    qtbot.waitUntil(lambda: not page.busy, timeout=60_000)
    assert "could be read" in page.banner.text() and page.banner.kind == "error"
    assert "Failed" in page.stage_label.text()


def test_options_come_from_the_registries_with_descriptions(window: MainWindow) -> None:
    options = window.train_page.options
    for index, name in enumerate(METHODS):
        options.method.setCurrentIndex(options.method.findData(name))
        assert options.method_help.text() == METHODS[name].description
        assert options.layer_group.currentData() == METHODS[name].default_layer_group
        assert options.group_help.text()
        # the method's own settings, at its defaults: epochs for the trainers, coreset ratio for PatchCore
        defaults = METHODS[name].settings()
        assert {key: box.value() for key, box in options.method_settings.controls.items()} == pytest.approx(
            defaults.to_dict())
        assert options.config().settings == defaults
    options.method.setCurrentIndex(options.method.findData("patchcore"))
    options.backbone.setCurrentIndex(options.backbone.findData("resnet18"))
    assert "ResNet18" in options.backbone_help.text()
    config = options.config()
    assert (config.method, config.backbone, config.layer_group) == ("patchcore", "resnet18", "patchcore")
