"""A red (or amber) line at the top of a page that says what went wrong in words an operator can act on."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

_STYLES = {
    "error": "background:#b3261e; color:white; padding:6px; border-radius:4px;",
    "warning": "background:#f2b21b; color:black; padding:6px; border-radius:4px;",
    "info": "background:#2b5797; color:white; padding:6px; border-radius:4px;",
}


class QtMessageBanner(QWidget):
    """Hidden until `show_message`; the close button hides it again. `text()` returns what it shows (for tests)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.kind = ""
        self.hide()

    def show_message(self, message: str, kind: str = "error") -> None:
        self.kind = kind
        self.label.setText(message)
        self.setStyleSheet(_STYLES.get(kind, _STYLES["error"]))
        self.show()

    def show_error(self, message: str) -> None:
        self.show_message(message, "error")

    def text(self) -> str:
        return "" if self.isHidden() else self.label.text()
