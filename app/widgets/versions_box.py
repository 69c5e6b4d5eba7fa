"""The active model's versions (`core.model_versions`), newest first, and a button that rolls back to the one
selected (as a new version: history is never rewritten). For a method that learns by training, the frames marked
good are kept in the model directory: "Fine-tune" teaches them (with progress and Cancel). The live runtime follows
through the teach runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from core.errors import InputError
from core.model_versions import newest_first, read_log
from core.teaching.taught import taught_frames


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
        self.fine_tune_button = QPushButton("Fine-tune on the kept frames")
        self.fine_tune_button.clicked.connect(self.fine_tune)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.progress = QProgressBar()
        for widget in (self.fine_tune_button, self.cancel_button, self.progress):
            widget.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(self.rollback_button)
        tune = QHBoxLayout()
        tune.addWidget(self.fine_tune_button, 1)
        tune.addWidget(self.progress, 1)
        tune.addWidget(self.cancel_button)
        layout.addLayout(tune)
        if runner is not None:
            runner.stepped.connect(self._stepped)
            runner.busy.connect(self._busy)
            runner.taught.connect(lambda _: self.refresh())
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
        kept = len(taught_frames(self.model_dir))
        self.fine_tune_button.setText(f"Fine-tune on {kept} kept frame(s)")
        self.fine_tune_button.setVisible(kept > 0)
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

    def fine_tune(self) -> None:
        if self.model_dir is not None and self.runner is not None:
            self.runner.fine_tune(self.model_dir)

    def _cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()

    def _stepped(self, step: int, total: int) -> None:
        self.progress.setRange(0, total)  # 0, 0: busy without a known length
        self.progress.setValue(step)

    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.fine_tune_button.setEnabled(not busy)

    def roll_back(self) -> None:
        chosen = self.selected_version()
        if self.model_dir is not None and chosen is not None and self.runner is not None:
            self.runner.rollback(self.model_dir, chosen)
