"""Tabs whose pages are built the first time they are needed, so the window opens without their imports.

The Train, Quantize and Benchmark pages import the training side of the engine (torch, timm, ...): seconds of
start-up and most of a gigabyte of memory that inspecting never uses. Each sits in its tab as a placeholder
until the user opens that tab (or code asks for the page). Opening the tab imports the page's module on a
background thread (Python gives the UI thread the interpreter every few milliseconds, so a running inspection
keeps drawing and the window stays responsive through the seconds torch takes), then builds the page on the UI
thread in place of the placeholder, in the same tab, so `setCurrentWidget(page)` works as for any tab.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

PageFactory = Callable[[], QWidget]
_POLL_MS = 50  # how often the UI thread looks whether a background import is done


class QtLazyTabs(QTabWidget):
    """A `QTabWidget` with `add_lazy_page(title, factory, module)`: `factory()` builds the page on first use;
    `module` (what `factory` imports) is imported in the background first when the user opens the tab.

    Example:
        >>> tabs = QtLazyTabs()
        >>> tabs.add_lazy_page("Train", lambda: TrainPage(settings), "app.pages.train_page")
        >>> tabs.page("Train")  # built now (or when the user opens the tab), then the same page every time
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factories: dict[str, tuple[PageFactory, str]] = {}
        self._placeholders: dict[str, QWidget] = {}
        self._pages: dict[str, QWidget] = {}
        self._importing: dict[str, threading.Thread] = {}
        self._swapping = False
        self._poll = QTimer(self)
        self._poll.setInterval(_POLL_MS)
        self._poll.timeout.connect(self._build_imported)
        self.currentChanged.connect(self._current_changed)

    def add_lazy_page(self, title: str, factory: PageFactory, module: str) -> None:
        placeholder = QLabel(f"Loading the {title} page…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._factories[title] = (factory, module)
        self._placeholders[title] = placeholder
        self.addTab(placeholder, title)

    def show_tab(self, title: str) -> None:
        """Make tab `title` current; a page not built yet shows its placeholder while it is loaded."""
        for index in range(self.count()):
            if self.tabText(index) == title:
                self.setCurrentIndex(index)
                return
        raise KeyError(title)

    def is_built(self, title: str) -> bool:
        return title in self._pages

    def built_pages(self) -> list[QWidget]:
        return list(self._pages.values())

    def page(self, title: str) -> QWidget:
        """The page of tab `title`, built now if it was not yet (waiting for its background import, if one runs:
        the import system makes this thread wait for the module)."""
        if title in self._pages:
            return self._pages[title]
        placeholder = self._placeholders.pop(title)
        factory, _module = self._factories.pop(title)
        page = factory()
        index = self.indexOf(placeholder)
        was_current = self.currentIndex() == index
        self._swapping = True  # removing the current tab moves the current index: not a user's choice
        try:
            self.removeTab(index)
            self.insertTab(index, page, title)
            if was_current:
                self.setCurrentIndex(index)
        finally:
            self._swapping = False
        placeholder.deleteLater()
        self._pages[title] = page
        return page

    def _current_changed(self, index: int) -> None:
        if self._swapping:
            return
        for title, placeholder in self._placeholders.items():
            if self.widget(index) is placeholder and title not in self._importing:
                _factory, module = self._factories[title]
                # A daemon thread: a window closed meanwhile does not wait for it, nor does it outlive Qt's objects.
                thread = threading.Thread(target=_import_quietly, args=(module,), daemon=True,
                                          name=f"import {module}")
                self._importing[title] = thread
                thread.start()
                self._poll.start()
                return

    def _build_imported(self) -> None:
        """Build each page whose import is done, if its tab is (still) the current one; the others are built at
        once when next opened or asked for."""
        for title, thread in list(self._importing.items()):
            if thread.is_alive():
                continue
            del self._importing[title]
            placeholder = self._placeholders.get(title)
            if placeholder is not None and self.currentWidget() is placeholder:
                self.page(title)
        if not self._importing:
            self._poll.stop()


def _import_quietly(module: str) -> None:
    """Import `module` ahead of its factory; a failure is left for the factory's own import to raise, on the UI
    thread, where it is seen."""
    try:
        import_module(module)
    except Exception:  # noqa: BLE001 - raised again, visibly, by the factory
        pass
