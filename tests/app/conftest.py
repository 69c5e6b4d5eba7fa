"""Fixtures for the window tests: off-screen Qt, throw-away settings, a tiny real model and data, and a check that
no test leaves a top-level window open."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_testkit import make_category
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from app.settings import AppSettings
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PatchCore at 64 px with random weights: a real model directory (ONNX graph included) in seconds."""
    root = tmp_path_factory.mktemp("app-model")
    category = make_category(root / "data", "stripes")
    config = ModelConfig(method="patchcore", image_size=64)
    return run_to_end(train_job(config, [category], root / "model", weights="random")).model_dir


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    """Settings in a temporary INI file, so tests never read or change the user's."""
    store = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    store.set_value("train/models_folder", str(tmp_path / "models"))
    store.set_value("inspect/save_folder", str(tmp_path / "saved"))
    return store


@pytest.fixture
def window(qtbot, settings: AppSettings, tiny_model: Path) -> MainWindow:
    """The main window on the tiny model, on its Inspect page, not inspecting yet (page tests may override it)."""
    main = MainWindow(settings, model_dir=tiny_model, autostart=False)
    qtbot.addWidget(main, before_close_func=lambda widget: widget.shutdown())
    main.show()
    qtbot.waitUntil(lambda: main.inspect_page.runtime is not None, timeout=30_000)
    return main


@pytest.fixture(autouse=True)
def no_leaked_windows(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a visible top-level window behind (napari's make_napari_viewer does the same)."""
    before = set(QApplication.topLevelWidgets())
    yield
    QApplication.processEvents()
    leaked = [widget for widget in QApplication.topLevelWidgets()
              if widget not in before and widget.isVisible()]
    for widget in leaked:
        widget.close()
    assert not leaked, f"test left top-level windows open: {[type(widget).__name__ for widget in leaked]}"
