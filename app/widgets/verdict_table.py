"""The History page's table model: verdict rows from the audit trail behind a `QTableView` (one model, no widget
per row, so tens of thousands of rows cost one list). Times are shown in local time, stored in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from core.audit.records import NG, Verdict

COLUMNS = ("Time", "Verdict", "Score", "Threshold", "Category", "Source", "Frame", "Model", "Operator", "Image")
_NG_BRUSH = QColor("#fce8e6")
Index = QModelIndex | QPersistentModelIndex


class QtVerdictTableModel(QAbstractTableModel):
    """`set_rows(verdicts)` replaces what is shown; `verdict(row)` is the record behind a row."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Verdict] = []

    def set_rows(self, rows: list[Verdict]) -> None:
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def verdict(self, row: int) -> Verdict:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        verdict = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(verdict, index.column())
        if role == Qt.ItemDataRole.BackgroundRole and verdict.verdict == NG:
            return _NG_BRUSH
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == COLUMNS.index("Model"):
            return f"{verdict.model.path}\nsha256 {verdict.model.sha256}"
        return None


def _cell(verdict: Verdict, column: int) -> str:
    name = COLUMNS[column]
    if name == "Time":
        return datetime.fromisoformat(verdict.time).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if name == "Verdict":
        return verdict.verdict
    if name in ("Score", "Threshold"):
        return f"{verdict.score if name == 'Score' else verdict.threshold:.4g}"
    if name == "Category":
        return verdict.category or "—"
    if name == "Source":
        return verdict.source
    if name == "Frame":
        return f"{verdict.frame}  {verdict.frame_name}"
    if name == "Model":
        return model_label(verdict.model.sha256, verdict.model.precision, verdict.model.version)
    if name == "Operator":
        return (verdict.operator_action or "").replace("_", " ")
    return "kept" if verdict.image_path else ("pruned" if verdict.verdict == NG else "")


def model_label(sha256: str, precision: str, version: int) -> str:
    return f"{sha256[:10]} v{version} {precision.upper()}"
