"""The History page: the audit trail's verdicts, filtered by time, verdict, category and model, counted, exported
as CSV, with the overlay of a selected NG frame and the operator's word on it (mark as good, which also teaches the
model the frame, confirm NG, which makes the frame a known defect every later teach is checked against), and the
active model's versions with a rollback.

It reads the station's audit database (`AppSettings.audit_db`, shared with `python -m core inspect`) with a
connection of its own, on the UI thread: the queries use the time index and show at most `ROW_LIMIT` rows, so
they take milliseconds; the live loop's writer is never blocked by them (WAL).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from PySide6.QtCore import QDateTime, Qt
from PySide6.QtGui import QPixmap, QShowEvent
from PySide6.QtWidgets import (QComboBox, QDateTimeEdit, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QTableView, QVBoxLayout, QWidget)

from app.settings import AppSettings
from app.teach_runner import QtTeachRunner
from app.widgets.error_banner import QtMessageBanner
from app.widgets.verdict_table import QtVerdictTableModel, model_label
from app.widgets.versions_box import QtVersionsBox
from core.audit.frames import raw_frame_path
from core.audit.history import write_csv
from core.audit.records import CONFIRMED_NG, MARKED_GOOD, VERDICTS, Verdict, utc_text
from core.audit.store import AuditStore, HistoryFilter
from core.data.images import read_image
from core.errors import InputError
from core.runtime import is_bundle
from core.teaching.images import Frame

ROW_LIMIT = 5000
ANY = "All"
PERIODS = {"Last hour": timedelta(hours=1), "Last 8 hours": timedelta(hours=8), "Last 24 hours": timedelta(days=1),
           "Last 7 days": timedelta(days=7), "All time": None, "From … to …": "range"}


class HistoryPage(QWidget):
    """The audit trail in a table. `refresh()` re-reads it with the filters set; `export_csv(path)` writes them."""

    title = "History"

    def __init__(self, settings: AppSettings, teach: QtTeachRunner | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.db_path = settings.audit_db
        self.teach = teach
        self.table_model = QtVerdictTableModel(self)
        self._build()
        self.refresh()

    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        self.period.setCurrentText("Last 24 hours")
        now = QDateTime.currentDateTime()
        self.since_edit, self.until_edit = QDateTimeEdit(now.addDays(-1)), QDateTimeEdit(now.addSecs(3600))
        for edit in (self.since_edit, self.until_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.verdict = QComboBox()
        self.verdict.addItems([ANY, *VERDICTS])
        self.category = QComboBox()
        self.model_choice = QComboBox()
        self.refresh_button = QPushButton("Refresh")
        self.export_button = QPushButton("Export CSV…")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button.clicked.connect(self._choose_csv)
        for combo in (self.period, self.verdict, self.category, self.model_choice):
            combo.activated.connect(self.refresh)
        for edit in (self.since_edit, self.until_edit):
            edit.editingFinished.connect(self.refresh)
        self.period.currentTextChanged.connect(self._period_changed)
        self._period_changed(self.period.currentText())

        filters = QHBoxLayout()
        for label, widget in (("Time", self.period), ("from", self.since_edit), ("to", self.until_edit),
                              ("Verdict", self.verdict), ("Category", self.category), ("Model", self.model_choice)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.refresh_button)
        filters.addWidget(self.export_button)

        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.preview = QLabel("Select an NG frame to see its overlay")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(320, 240)
        self.preview_caption = QLabel("")
        self.preview_caption.setWordWrap(True)
        self.mark_good = QPushButton("Mark as good")
        self.confirm_ng = QPushButton("Confirm NG")
        self.mark_good.clicked.connect(lambda: self.set_action(MARKED_GOOD))
        self.confirm_ng.clicked.connect(lambda: self.set_action(CONFIRMED_NG))
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.preview, 1)
        side_layout.addWidget(self.preview_caption)
        actions = QHBoxLayout()
        actions.addWidget(self.mark_good)
        actions.addWidget(self.confirm_ng)
        side_layout.addLayout(actions)
        self.teach_status = QLabel("")
        self.teach_status.setWordWrap(True)
        side_layout.addWidget(self.teach_status)
        self.versions = QtVersionsBox(self.teach)
        self.versions.setEnabled(self.teach is not None)
        side_layout.addWidget(self.versions)
        if self.teach is not None:
            self.teach.message.connect(self._teach_message)
            self.teach.progressed.connect(self.teach_status.setText)
            self.teach.busy.connect(self._teach_busy)
            self.teach.model_changed.connect(lambda _: self.versions.refresh())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([1000, 420])
        self.summary = QLabel("")
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(filters)
        layout.addWidget(self.summary)
        layout.addWidget(splitter, 1)

    # -- filters ------------------------------------------------------------------------------------------------
    def _period_changed(self, text: str) -> None:
        custom = PERIODS[text] == "range"
        self.since_edit.setEnabled(custom)
        self.until_edit.setEnabled(custom)

    def current_filter(self) -> HistoryFilter:
        period = PERIODS[self.period.currentText()]
        since = until = None
        if period == "range":
            since = utc_text(self.since_edit.dateTime().toPython().astimezone())
            until = utc_text(self.until_edit.dateTime().toPython().astimezone())
        elif isinstance(period, timedelta):
            since = utc_text(datetime.now(timezone.utc) - period)
        verdict, category = self.verdict.currentText(), self.category.currentData()
        return HistoryFilter(since=since, until=until, verdict=None if verdict == ANY else verdict,
                             category=category, model=self.model_choice.currentData())

    def _fill_choices(self, store: AuditStore) -> None:
        """Categories and models seen in the database, the current choice kept."""
        for combo, items in ((self.category, [(name or "(unknown)", name) for name in store.categories()]),
                             (self.model_choice, [(model_label(model.sha256, model.precision, model.version) +
                                                   f"  {Path(model.path).name}", model.sha256)
                                                  for model in store.models()])):
            chosen = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(ANY, None)
            for text, data in items:
                combo.addItem(text, data)
            found = combo.findData(chosen)
            combo.setCurrentIndex(max(found, 0))
            combo.blockSignals(False)

    # -- reading --------------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            with AuditStore(self.db_path) as store:
                self._fill_choices(store)
                where = self.current_filter()
                counts = store.counts(where)
                rows = store.verdicts(where, limit=ROW_LIMIT)
        except InputError as error:
            self.banner.show_error(str(error))
            return
        self.banner.hide()
        self.table_model.set_rows(rows)
        self.table.resizeColumnsToContents()
        total = sum(counts.values())
        ng = sum(count for (verdict, _), count in counts.items() if verdict == "NG")
        by_category = ", ".join(f"{category or '(unknown)'} {count}" for (verdict, category), count
                                in sorted(counts.items()) if verdict == "NG")
        shown = f" (newest {len(rows):,} shown)" if len(rows) < total else ""
        self.summary.setText(f"{total:,} verdicts{shown}: {total - ng:,} OK, {ng:,} NG"
                             + (f" ({by_category})" if by_category else "") + f"  ·  {self.db_path}")
        self._selection_changed()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name): fresh rows when the tab is opened
        super().showEvent(event)
        self.refresh()

    def selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.table.selectionModel().selectedRows())

    def _selection_changed(self) -> None:
        rows = self.selected_rows()
        self.mark_good.setEnabled(bool(rows))
        self.confirm_ng.setEnabled(bool(rows))
        if not rows:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Select an NG frame to see its overlay")
            self.preview_caption.setText("")
            return
        verdict = self.table_model.verdict(rows[0])
        self.preview_caption.setText(f"{verdict.verdict}  score {verdict.score:.4g} / {verdict.threshold:.4g}  ·  "
                                     f"{verdict.frame_name}  ·  {verdict.source}")
        image = self.db_path.parent / verdict.image_path if verdict.image_path else None
        pixmap = QPixmap(str(image)) if image is not None and image.is_file() else QPixmap()
        if pixmap.isNull():
            self.preview.setPixmap(QPixmap())
            self.preview.setText("OK frame: no image kept" if verdict.verdict == "OK"
                                 else "This NG frame's image was removed by the disk cap")
        else:
            self.preview.setPixmap(pixmap.scaled(self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation))

    # -- operator actions -------------------------------------------------------------------------------------
    def set_action(self, action: str) -> None:
        """Record the operator's word on the selected verdicts. Marked good, their frames also teach the model
        that judged them (a new version, checked against every known defect, frames confirmed NG included)."""
        verdicts = [self.table_model.verdict(row) for row in self.selected_rows()]
        with AuditStore(self.db_path) as store:
            store.set_action([verdict.id for verdict in verdicts if verdict.id is not None], action)
        self.refresh()
        if action == MARKED_GOOD and self.teach is not None:
            self.teach_verdicts(verdicts)

    def teach_verdicts(self, verdicts: list[Verdict]) -> bool:
        """Teach the frames of `verdicts` kept in the trail as good, to the model of the first of them."""
        kept = [(verdict, raw_frame_path(self.db_path, verdict.image_path)) for verdict in verdicts]
        kept = [(verdict, path) for verdict, path in kept if path is not None and path.is_file()]
        if not kept or self.teach is None:
            self.banner.show_message("Recorded. No frame of these verdicts is kept (OK frames keep none, and the disk "
                                     "cap removes the oldest), so nothing was taught", "warning")
            return False
        model_dir = Path(kept[0][0].model.path)
        if not (model_dir / "manifest.json").is_file() or is_bundle(model_dir):
            self.banner.show_message(f"Recorded. {model_dir} is not a model directory here (a bundle or a device's "
                                     f"model), so it cannot be taught; teach the model it came from", "warning")
            return False
        frames = [Frame(verdict.frame_name, read_image(path), verdict.category) for verdict, path in kept
                  if verdict.model.path == kept[0][0].model.path]
        return self.teach.teach(model_dir, frames)

    def _teach_message(self, text: str, kind: str) -> None:
        self.banner.show_message(text, kind)
        self.teach_status.setText("")

    def _teach_busy(self, busy: bool) -> None:
        self.mark_good.setEnabled(not busy and bool(self.selected_rows()))
        if busy:
            self.versions.rollback_button.setEnabled(False)
        else:
            self.versions.update_button()

    def export_csv(self, target: Path) -> int:
        """Write the verdicts the filters select (all of them, not only the rows shown) as CSV at `target`."""
        try:
            with AuditStore(self.db_path) as store:
                written = write_csv(store, self.current_filter(), Path(target))
        except InputError as error:
            self.banner.show_error(str(error))
            return 0
        self.banner.show_message(f"wrote {written:,} verdicts to {target}", "info")
        return written

    def _choose_csv(self) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Export verdicts as CSV", "history.csv", "CSV (*.csv)")
        if target:
            self.export_csv(Path(target))

    def shutdown(self) -> None:
        """Nothing runs in the background here (the main window asks every page)."""
