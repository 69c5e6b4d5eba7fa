"""Tabs whose pages are built the first time they are needed, so the window opens without their imports.

The Train, Quantize, Export and Benchmark pages import the training side of the engine (torch, timm, ...): seconds
of start-up and most of a gigabyte of memory that inspecting never uses. Each sits in its tab as a placeholder
until the user opens that tab (or code asks for the page): the placeholder says the page is loading, is painted,
and is then replaced by the page itself, in the same tab, so `setCurrentWidget(page)` works as for any tab.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QTabWidget, QWidget

PageFactory = Callable[[], QWidget]
_PAINT_FIRST_MS = 30  # time for the placeholder to be painted before the build holds the UI thread


class QtLazyTabs(QTabWidget):
    """A `QTabWidget` with `add_lazy_page(title, factory)`: `factory()` builds the page on first use.

    Example:
        >>> tabs = QtLazyTabs()
        >>> tabs.add_lazy_page("Train", lambda: TrainPage(settings))
        >>> tabs.page("Train")  # built now (or when the user opens the tab), then the same page every time
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factories: dict[str, PageFactory] = {}
        self._placeholders: dict[str, QWidget] = {}
        self._pages: dict[str, QWidget] = {}
        self._swapping = False
        self.currentChanged.connect(self._current_changed)

    def add_lazy_page(self, title: str, factory: PageFactory) -> None:
        placeholder = QLabel(f"Loading the {title} page…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._factories[title] = factory
        self._placeholders[title] = placeholder
        self.addTab(placeholder, title)

    def show_tab(self, title: str) -> None:
        """Make tab `title` current; a page not built yet shows its placeholder while it is built."""
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
        """The page of tab `title`, built now if it was not yet."""
        if title in self._pages:
            return self._pages[title]
        placeholder = self._placeholders.pop(title)
        page = self._factories.pop(title)()
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
            if self.widget(index) is placeholder:
                QTimer.singleShot(_PAINT_FIRST_MS, lambda title=title: self._build_if_current(title))
                return

    def _build_if_current(self, title: str) -> None:
        placeholder = self._placeholders.get(title)
        if placeholder is not None and self.currentWidget() is placeholder:
            self.page(title)
