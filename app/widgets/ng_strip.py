"""A strip of the last NG frames as small overlays, newest first, so the operator sees what was rejected; a
thumbnail's context menu marks its frame as good (`mark_good_requested(frame)`, a `core.teaching.images.Frame`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QWidget

from core.teaching.images import Frame

STRIP_LENGTH = 8
THUMB_HEIGHT = 80


def to_pixmap(image: np.ndarray, height: int) -> QPixmap:
    """H x W x 3 uint8 RGB -> a QPixmap scaled to `height` (the QImage copies, so the array may go away)."""
    image = np.ascontiguousarray(image)
    rows, columns = image.shape[:2]
    qimage = QImage(image.data, columns, rows, 3 * columns, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(qimage).scaledToHeight(height, Qt.TransformationMode.SmoothTransformation)


class QtNgStrip(QScrollArea):
    """Up to `STRIP_LENGTH` thumbnails; `add(thumbnail, caption, frame)` pushes one in on the left."""

    mark_good_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFixedHeight(THUMB_HEIGHT + 40)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        self._layout = QHBoxLayout(inner)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._placeholder = QLabel("Last NG frames appear here")
        self._placeholder.setStyleSheet("color:#777;")
        self._layout.addWidget(self._placeholder)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self.thumbnails: list[QLabel] = []

    def add(self, thumbnail: np.ndarray, caption: str, frame: Frame | None = None) -> None:
        """`frame`: what the model saw, for "Mark as good" (None: the thumbnail has no such action)."""
        self._placeholder.hide()
        label = QLabel()
        label.setPixmap(to_pixmap(thumbnail, THUMB_HEIGHT))
        label.setToolTip(caption + ("  (right-click: mark as good)" if frame is not None else ""))
        if frame is not None:
            action = QAction("Mark as good", label)
            action.triggered.connect(lambda: self.mark_good_requested.emit(frame))
            label.addAction(action)
            label.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self._layout.insertWidget(0, label)
        self.thumbnails.insert(0, label)
        while len(self.thumbnails) > STRIP_LENGTH:
            old = self.thumbnails.pop()
            self._layout.removeWidget(old)
            old.deleteLater()

    def clear_thumbnails(self) -> None:
        for label in self.thumbnails:
            self._layout.removeWidget(label)
            label.deleteLater()
        self.thumbnails.clear()
        self._placeholder.show()
