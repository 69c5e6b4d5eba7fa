"""The active model's versions (`core.model_versions`), newest first, and a button that rolls back to the one
selected (as a new version: history is never rewritten). The live runtime follows through the teach runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QGroupBox, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from core.errors import InputError
from core.model_versions import newest_first, read_log


class QtVersionsBox(QGroupBox):
    """`set_model(model_dir)` lists its versions; "Roll back" asks `runner.rollback(model_dir, n)`."""

    def __init__(self, runner: Any, parent: QWidget | None = None) -> None:
        super().__init__("Model versions", parent)
        self.runner = runner
        self.model_dir: Path | None = None
        self.list = QListWidget()
        self.rollback_button = QPushButton("Roll back to the selected version")
        self.rollback_button.clicked.connect(self.roll_back)
        self.list.currentItemChanged.connect(self.update_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.rollback_button)
        self.current = 0
        self.update_button()

    def set_model(self, model_dir: Path | None) -> None:
        self.model_dir = None if model_dir is None else Path(model_dir)
        self.refresh()

    def refresh(self) -> None:
        self.list.clear()
        if self.model_dir is None:
            return
        try:
            log = read_log(self.model_dir)
        except InputError as error:
            self.list.addItem(str(error))
            return
        self.current = log.current
        for version in newest_first(log.versions):
            mark = "  (live)" if version.number == log.current else ""
            item = QListWidgetItem(f"v{version.number}  {version.time[:19]}  {version.reason}{mark}")
            item.setData(256, version.number)  # Qt.ItemDataRole.UserRole
            self.list.addItem(item)
        self.update_button()

    def selected_version(self) -> int | None:
        item = self.list.currentItem()
        return None if item is None else item.data(256)

    def update_button(self, *_: object) -> None:
        chosen = self.selected_version()
        self.rollback_button.setEnabled(chosen is not None and chosen != self.current)

    def roll_back(self) -> None:
        chosen = self.selected_version()
        if self.model_dir is not None and chosen is not None:
            self.runner.rollback(self.model_dir, chosen)
