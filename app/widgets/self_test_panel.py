"""The start-of-shift self-test on the Inspect page: a button that scores the station's known good and bad parts
with the live model (`core.audit.self_test`, on a worker thread), a line that says when the last one ran,
highlighted as a reminder once it is older than the set time (default 8 h, setting `self_test/max_age_hours`), and a
Parts menu that registers known good or bad part images (as `python -m core self-test --add-good/--add-bad` does)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QInputDialog, QLabel, QMenu, QPushButton, QToolButton, QWidget

from app.qt_worker import QtJobWorker
from core.audit.location import parts_folder
from core.audit.records import NG, OK, ModelIdentity, SelfTestRun
from core.audit.self_test import add_parts, part_category, registered_parts, self_test_job
from core.audit.store import AuditStore
from core.errors import InputError
from core.jobs import CancelToken

_DUE_STYLE = "background:#fbbc04; color:#202124; font-weight:bold; padding:2px 6px; border-radius:4px;"
_FAILED_STYLE = "background:#c5221f; color:white; font-weight:bold; padding:2px 6px; border-radius:4px;"
_RECHECK_MS = 60_000  # a shift passes while the window is open: look again every minute


class QtSelfTestPanel(QWidget):
    """`set_model(runtime)` tells it which model to test; `message(text, kind)` is for the page's banner."""

    message = Signal(str, str)
    run_finished = Signal(object)  # the SelfTestRun

    def __init__(self, db_path: Path, max_age_hours: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db_path, self.max_age_hours = Path(db_path), max_age_hours
        self.runtime: Any = None
        self.worker: QtJobWorker | None = None
        self.button = QPushButton("Self-test")
        self.button.setToolTip(f"score the known good and bad parts in {parts_folder(self.db_path)}")
        self.button.clicked.connect(self.run)
        self.button.setEnabled(False)
        self.status = QLabel("Self-test: —")
        self.parts_button = QToolButton()
        self.parts_button.setText("Parts")
        self.parts_button.setToolTip("register known good or bad part images for the self-test")
        self.parts_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.parts_button)
        menu.addAction("Add known good parts…", lambda: self._choose_parts(OK))
        menu.addAction("Add known bad parts…", lambda: self._choose_parts(NG))
        self.parts_button.setMenu(menu)
        self.parts_button.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addWidget(self.button)
        layout.addWidget(self.parts_button)
        self._timer = QTimer(self)
        self._timer.setInterval(_RECHECK_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    @property
    def due(self) -> bool:
        return self.status.property("due") is True

    def set_model(self, runtime: Any) -> None:
        self.runtime = runtime
        self.button.setEnabled(self.worker is None)
        self.parts_button.setEnabled(True)
        self.refresh()
        if self.due:
            self.message.emit(f"{self.status.text()}: run the start-of-shift self-test (button beside the model)",
                              "warning")

    def refresh(self) -> None:
        """Say when the last self-test ran, highlighted when it failed or is older than the set time."""
        try:
            with AuditStore(self.db_path) as store:
                last = store.last_self_test()
        except InputError as error:
            self._show(f"Self-test: {error}", _FAILED_STYLE, due=False)
            return
        if last is None:
            self._show("Self-test due: none run yet", _DUE_STYLE, due=True)
            return
        hours = (datetime.now(timezone.utc) - datetime.fromisoformat(last[0])).total_seconds() / 3600
        if not last[1]:
            self._show(f"Self-test FAILED {hours:.1f} h ago", _FAILED_STYLE, due=True)
        elif hours > self.max_age_hours:
            self._show(f"Self-test due: last passed {hours:.1f} h ago", _DUE_STYLE, due=True)
        else:
            self._show(f"Self-test passed {hours:.1f} h ago", "", due=False)

    def register_parts(self, images: list[Path], expected: str, category: str | None = None) -> list[Path]:
        """Copy `images` into the station's parts as known good (OK) or bad (NG) ones of the live model's
        categories; says in the banner what was added, or why nothing was."""
        categories = list(self.runtime.categories) if self.runtime is not None else []
        try:
            copies = add_parts(parts_folder(self.db_path), images, expected, categories, category)
        except InputError as error:
            self.message.emit(f"No part added: {error}", "error")
            return []
        count = len(registered_parts(parts_folder(self.db_path), categories))
        kind = "good" if expected == OK else "bad"
        self.message.emit(f"Added {len(copies)} known {kind} part(s); the self-test now runs {count}", "info")
        return copies

    def _choose_parts(self, expected: str) -> None:
        kind = "good" if expected == OK else "bad"
        names, _ = QFileDialog.getOpenFileNames(self, f"Known {kind} parts", "",
                                                "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)")
        if not names:
            return
        images = [Path(name) for name in names]
        categories = list(self.runtime.categories) if self.runtime is not None else []
        category = None
        try:
            part_category(images[0], categories)
        except InputError:  # the path names no category of a multi-category model: ask, as --category does
            category, chosen = QInputDialog.getItem(self, "Category", f"Category of these {kind} parts:",
                                                    categories, 0, False)
            if not chosen:
                return
        self.register_parts(images, expected, category)

    def _show(self, text: str, style: str, due: bool) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(style)
        self.status.setProperty("due", due)

    def run(self) -> None:
        if self.runtime is None or self.worker is not None:
            return
        runtime, parts, db = self.runtime, parts_folder(self.db_path), self.db_path
        model = ModelIdentity.of(runtime.manifest, runtime.model_dir)

        def job(token: CancelToken) -> Any:
            return self_test_job(runtime, parts, model, db, token)

        self.worker = QtJobWorker(job, self)
        self.worker.succeeded.connect(self._succeeded)
        self.worker.failed.connect(self._failed)
        self.worker.finished.connect(self._finished)
        self.button.setEnabled(False)
        self.status.setText("Self-test running…")
        self.worker.start()

    def _succeeded(self, run: SelfTestRun) -> None:
        if run.passed:
            self.message.emit(f"Self-test passed: {len(run.parts)} parts as expected", "info")
        else:
            wrong = ", ".join(f"{part.part} ({part.verdict}, expected {part.expected})" for part in run.failures)
            self.message.emit(f"Self-test FAILED: {len(run.failures)} of {len(run.parts)} parts wrong: {wrong}",
                              "error")
        self.run_finished.emit(run)

    def _failed(self, message: str) -> None:
        self.message.emit(message, "error")

    def _finished(self) -> None:
        self.sender().deleteLater()
        self.worker = None
        self.button.setEnabled(self.runtime is not None)
        self.refresh()

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(5000)
