"""The category folders to train on: one row each with layout, counts and problems; folders can be dropped on it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from app.folder_scan import FolderScan

COLUMNS = ("Category", "Layout", "Train images", "Test good / defect", "Unreadable", "Notes")


class QtCategoryTable(QTableWidget):
    """Rows keyed by folder path. `folders_dropped(list[Path])` when folders are dropped from a file manager."""

    folders_dropped = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.folders: list[Path] = []
        self.scans: dict[Path, FolderScan] = {}

    def set_pending(self, folder: Path) -> None:
        """A row that says the folder is being scanned."""
        row = self._row_of(folder)
        self._fill(row, [folder.name, "scanning…", "", "", "", str(folder)])

    def set_scan(self, folder: Path, scan: FolderScan) -> None:
        self.scans[folder] = scan
        category = scan.category
        good = sum(1 for sample in category.test if sample.label == 0)
        unreadable = "; ".join(f"{path.name} ({reason})" for path, reason in scan.unreadable[:5])
        if len(scan.unreadable) > 5:
            unreadable += f" and {len(scan.unreadable) - 5} more"
        notes = "; ".join(category.warnings) or str(folder)
        cells = [category.name, category.layout, str(len(category.train)),
                 f"{good} / {scan.defect_images}" if category.test else "none", unreadable or "none", notes]
        self._fill(self._row_of(folder), cells, problem=bool(scan.unreadable))

    def set_error(self, folder: Path, message: str) -> None:
        self.scans.pop(folder, None)
        self._fill(self._row_of(folder), [folder.name, "unusable", "", "", "", message], problem=True)

    def remove_selected(self) -> list[Path]:
        rows = sorted({index.row() for index in self.selectedIndexes()}, reverse=True)
        removed = []
        for row in rows:
            removed.append(self.folders.pop(row))
            self.scans.pop(removed[-1], None)
            self.removeRow(row)
        return removed

    def usable_folders(self) -> list[Path]:
        return [folder for folder in self.folders if folder in self.scans]

    def _row_of(self, folder: Path) -> int:
        if folder not in self.folders:
            self.folders.append(folder)
            self.insertRow(self.rowCount())
        return self.folders.index(folder)

    def _fill(self, row: int, cells: list[str], problem: bool = False) -> None:
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if problem and column in (1, 4, 5):
                item.setForeground(Qt.GlobalColor.red)
            self.setItem(row, column, item)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if _dropped_folders(event):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if _dropped_folders(event):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        folders = _dropped_folders(event)
        if folders:
            event.acceptProposedAction()
            self.folders_dropped.emit(folders)


def _dropped_folders(event: QDragEnterEvent | QDropEvent) -> list[Path]:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile() and Path(url.toLocalFile()).is_dir()]
