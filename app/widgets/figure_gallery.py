"""The benchmark's PNG figures one under the other, scaled to the width available (the report's pictures, as the
report shows them)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget


class QtFigureGallery(QScrollArea):
    """`show_files(paths)` replaces the pictures; `files` lists those shown (unreadable files are left out)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self._inner = QWidget()
        self._layout = QVBoxLayout(self._inner)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.setWidget(self._inner)
        self.files: list[Path] = []
        self._pixmaps: list[tuple[QLabel, QPixmap]] = []
        self._placeholder = QLabel("No figures yet: open a results folder or run a grid")
        self._placeholder.setStyleSheet("color:#777;")
        self._layout.addWidget(self._placeholder)

    def show_files(self, paths: list[Path]) -> None:
        for label, _ in self._pixmaps:
            label.deleteLater()
        self._pixmaps, self.files = [], []
        for path in paths:
            pixmap = QPixmap(str(path))
            if pixmap.isNull():
                continue
            label = QLabel()
            label.setToolTip(str(path))
            self._layout.addWidget(label)
            self._pixmaps.append((label, pixmap))
            self.files.append(Path(path))
        self._placeholder.setVisible(not self.files)
        self._scale()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._scale()

    def _scale(self) -> None:
        width = max(200, self.viewport().width() - 24)
        for label, pixmap in self._pixmaps:
            label.setPixmap(pixmap.scaledToWidth(min(width, pixmap.width()),
                                                 Qt.TransformationMode.SmoothTransformation))
