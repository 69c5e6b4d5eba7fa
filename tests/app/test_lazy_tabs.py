"""Pages built on first use: the window opens with only the Inspect page, and a tab's page replaces its placeholder
in place the first time the tab is opened (or the page is asked for)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.main_window import MainWindow
from app.pages.train_page import TrainPage
from app.widgets.lazy_tabs import QtLazyTabs


def test_the_window_builds_a_page_when_its_tab_is_first_opened(qtbot, window: MainWindow) -> None:
    tabs = window.pages
    titles = [tabs.tabText(index) for index in range(tabs.count())]
    assert titles == ["Inspect", "Train", "Quantize", "Export", "Benchmark", "History"]
    assert not any(tabs.is_built(title) for title in titles[1:])
    tabs.show_tab("Train")  # what Ctrl+2 does
    assert isinstance(tabs.currentWidget(), QLabel)  # the placeholder, painted while the page is built
    qtbot.waitUntil(lambda: tabs.is_built("Train"), timeout=30_000)
    assert isinstance(tabs.currentWidget(), TrainPage) and tabs.currentWidget() is window.train_page
    assert [tabs.tabText(index) for index in range(tabs.count())] == titles  # same tab, same place
    export = window.export_page  # asked for by code: built at once, usable as any tab's page
    tabs.setCurrentWidget(export)
    assert tabs.currentWidget() is export and tabs.currentIndex() == titles.index("Export")
    assert [tabs.is_built(title) for title in titles[1:]] == [True, False, True, False, False]


def test_the_page_module_is_imported_off_the_ui_thread(qtbot, tmp_path: Path, monkeypatch) -> None:
    """A page module that takes half a second to import: the UI thread keeps running meanwhile, then the page
    replaces its placeholder."""
    (tmp_path / "slow_page_module.py").write_text("import time\ntime.sleep(0.5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tabs = QtLazyTabs()
    qtbot.addWidget(tabs)
    tabs.addTab(QWidget(), "Home")
    tabs.add_lazy_page("Slow", QWidget, "slow_page_module")
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()) if not tabs.is_built("Slow") else None)
    timer.start(20)
    tabs.show_tab("Slow")
    qtbot.waitUntil(lambda: tabs.is_built("Slow"), timeout=10_000)
    timer.stop()
    assert "slow_page_module" in sys.modules and tabs.currentIndex() == 1
    assert len(ticks) >= 10  # the UI thread ran its timer all through the import


def test_a_tab_left_before_its_page_is_built_stays_unbuilt(qtbot, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "slow_page_module_2.py").write_text("import time\ntime.sleep(0.3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tabs = QtLazyTabs()
    qtbot.addWidget(tabs)
    built: list[str] = []
    tabs.addTab(QWidget(), "Home")
    tabs.add_lazy_page("Slow", lambda: built.append("Slow") or QWidget(), "slow_page_module_2")
    tabs.show_tab("Slow")
    tabs.show_tab("Home")  # before the import is done
    qtbot.waitUntil(lambda: "slow_page_module_2" in sys.modules, timeout=10_000)
    qtbot.wait(200)
    assert built == [] and not tabs.is_built("Slow")
    page = tabs.page("Slow")
    assert tabs.page("Slow") is page and built == ["Slow"]  # one page, built once
