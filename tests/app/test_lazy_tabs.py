"""Pages built on first use: the window opens with only the Inspect page, and a tab's page replaces its placeholder
in place the first time the tab is opened (or the page is asked for)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from app.main_window import MainWindow
from app.pages.train_page import TrainPage
from app.widgets.lazy_tabs import QtLazyTabs


def test_the_window_builds_a_page_when_its_tab_is_first_opened(qtbot, window: MainWindow) -> None:
    tabs = window.pages
    titles = [tabs.tabText(index) for index in range(tabs.count())]
    assert titles == ["Inspect", "Train", "Quantize", "Export", "Benchmark"]
    assert not any(tabs.is_built(title) for title in titles[1:])
    tabs.show_tab("Train")  # what Ctrl+2 does
    assert isinstance(tabs.currentWidget(), QLabel)  # the placeholder, painted while the page is built
    qtbot.waitUntil(lambda: tabs.is_built("Train"), timeout=30_000)
    assert isinstance(tabs.currentWidget(), TrainPage) and tabs.currentWidget() is window.train_page
    assert [tabs.tabText(index) for index in range(tabs.count())] == titles  # same tab, same place
    export = window.export_page  # asked for by code: built at once, usable as any tab's page
    tabs.setCurrentWidget(export)
    assert tabs.currentWidget() is export and tabs.currentIndex() == titles.index("Export")
    assert [tabs.is_built(title) for title in titles[1:]] == [True, False, True, False]


def test_a_tab_left_before_its_page_is_built_stays_unbuilt(qtbot) -> None:
    tabs = QtLazyTabs()
    qtbot.addWidget(tabs)
    built: list[str] = []
    tabs.addTab(QWidget(), "Home")
    tabs.add_lazy_page("Slow", lambda: built.append("Slow") or QWidget())
    tabs.show_tab("Slow")
    tabs.show_tab("Home")  # before the placeholder's paint delay is over
    qtbot.wait(100)
    assert built == [] and not tabs.is_built("Slow")
    page = tabs.page("Slow")
    assert tabs.page("Slow") is page and built == ["Slow"]  # one page, built once
