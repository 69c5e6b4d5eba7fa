"""The benchmark's cells, one row each, sortable by any column (numbers sort as numbers, missing values last), with
the Pareto-front cells starred and tinted. Selecting a row selects a cell; `chosen_name()` says which."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.benchmark.values import value

Record = Mapping[str, Any]
FRONT_MARK = "★"
FRONT_TINT = QColor("#e6f4ea")
FAILED_TEXT = QColor("#9aa0a6")


def _layers(record: Record) -> str:
    layers = ", ".join(str(layer) for layer in record.get("layers") or [])
    return f"{record.get('layer_group', '?')} ({layers})" if layers else str(record.get("layer_group", "?"))


def _setting(record: Record) -> str:
    setting = str(record.get("setting", "?"))
    data = record.get("data") or []
    return f"{setting}: {data[0].rstrip('/').rsplit('/', 1)[-1]}" if setting == "per-category" and data else setting


def _number(name: str, scale: float = 1.0) -> Callable[[Record], float | None]:
    return lambda record: None if (amount := value(record, name)) is None else amount * scale


# (header, text or number of a record, format of a number, tooltip)
COLUMNS: tuple[tuple[str, Callable[[Record], Any], str, str], ...] = (
    ("Pareto", lambda record: "", "", "★: no other cell is at least as accurate and at most as costly on every "
                                     "measure chosen above the plots"),
    ("Method", lambda record: record.get("method", "?"), "", ""),
    ("Backbone", lambda record: record.get("backbone", "?"), "", ""),
    ("Layers", _layers, "", "layer group and the backbone layers it taps"),
    ("Setting", _setting, "", "unified: one model for all categories; per-category: one model per category"),
    ("Image AUROC", _number("image_auroc"), "{:.3f}", "mean over categories"),
    ("Pixel AUROC", _number("pixel_auroc"), "{:.3f}", "mean over categories"),
    ("Pixel F1-max", _number("pixel_f1_max"), "{:.3f}", "mean over categories"),
    ("AUPRO", _number("aupro"), "{:.3f}", "mean over categories, up to FPR 0.3"),
    ("Memory MB", _number("memory_mb"), "{:.2f}", "weights plus memory bank or statistics"),
    ("MACs (M)", _number("inference_macs", 1e-6), "{:.1f}", "inference multiply-accumulates per image"),
    ("FP32 ms", _number("latency_fp32"), "{:.2f}", "ONNX Runtime median latency, FP32, one image"),
    ("INT8 ms", _number("latency_int8"), "{:.2f}", "ONNX Runtime median latency, INT8 PTQ, one image"),
    ("Status", lambda record: record.get("status", "?"), "", "failed cells show their error as a tooltip"),
)
HEADERS = tuple(column[0] for column in COLUMNS)


class SortableItem(QTableWidgetItem):
    """Sorts by its key (a number, or the text), missing numbers after every real one in ascending order."""

    def __init__(self, text: str, key: tuple[int, Any]) -> None:
        super().__init__(text)
        self.key = key

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, SortableItem):
            return self.key < other.key
        return super().__lt__(other)


class QtBenchmarkTable(QTableWidget):
    """`show_records(records, front)` fills it; `chosen_name()` is the selected cell's name (None without one).

    Example:
        >>> table = QtBenchmarkTable(); table.show_records(records, {"stfpm/tf_efficientnet_lite0/equiv/unified"})
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(HEADERS))
        for index, (_, _, _, tip) in enumerate(COLUMNS):
            if tip:
                self.horizontalHeaderItem(index).setToolTip(tip)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)  # the Pareto front's cells first
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.setSortingEnabled(True)
        self.front: set[str] = set()

    def show_records(self, records: Sequence[Record], front: set[str]) -> None:
        """Fill the table, keeping the selected cell and the sort order the user chose."""
        chosen = self.chosen_name()
        self.front = set(front)
        self.setSortingEnabled(False)  # rows filled while sorting is on land in the wrong places
        self.setRowCount(0)
        self.setRowCount(len(records))
        for row, record in enumerate(records):
            self._fill_row(row, record)
        self.setSortingEnabled(True)
        if chosen is not None:
            self.choose(chosen)

    def _fill_row(self, row: int, record: Record) -> None:
        name = str(record.get("name", "?"))
        on_front = name in self.front
        failed = record.get("status") != "done"
        for column, (header, read, pattern, _) in enumerate(COLUMNS):
            raw = FRONT_MARK if header == "Pareto" and on_front else read(record)
            if pattern:
                text = "n/a" if raw is None else pattern.format(raw)
                key = (1, 0.0) if raw is None else (0, float(raw))
            else:
                text, key = str(raw), (0, str(raw))
            item = SortableItem(text, key)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(str(record.get("error") or name) if failed else name)
            if pattern or header == "Pareto":
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                                      if pattern else Qt.AlignmentFlag.AlignCenter)
            if on_front:
                item.setBackground(QBrush(FRONT_TINT))
            if failed:
                item.setForeground(QBrush(FAILED_TEXT))
            self.setItem(row, column, item)

    def chosen_name(self) -> str | None:
        rows = self.selectionModel().selectedRows() if self.selectionModel() else []
        if not rows:
            return None
        item = self.item(rows[0].row(), 0)
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def choose(self, name: str) -> bool:
        """Select the row of cell `name`; False when there is none."""
        for row in range(self.rowCount()):
            item = self.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                self.selectRow(row)
                return True
        return False

    def row_of(self, name: str) -> int:
        return next((row for row in range(self.rowCount())
                     if (item := self.item(row, 0)) is not None and item.data(Qt.ItemDataRole.UserRole) == name), -1)

    def cell_text(self, row: int, header: str) -> str:
        item = self.item(row, HEADERS.index(header))
        return item.text() if item is not None else ""
