"""The form of a benchmark grid: category folders, methods, backbones, layer groups, settings, image size, epochs,
output folder and executor (local, or Ray with an optional cluster address and a number of workers).

`request()` returns what was chosen as a `GridRequest` of plain values (the engine's `GridSpec` is built from it in
the job, so that the window does not import the benchmark package before a grid runs), or raises `InputError`
naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QListWidget,
                               QListWidgetItem, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from core.backbones.registry import BACKBONES, DEFAULT_BACKBONE, LAYER_GROUP_DESCRIPTIONS
from core.errors import InputError
from core.methods.registry import METHODS

SETTINGS = ("unified", "per-category")
EXECUTORS = ("local", "ray")
IMAGE_SIZES = (64, 128, 224, 256, 320)


@dataclass(frozen=True)
class GridRequest:
    """A grid as the form has it: `spec` holds `core.benchmark.grid.GridSpec`'s fields by name."""

    data: tuple[Path, ...]
    methods: tuple[str, ...]
    backbones: tuple[str, ...]
    layer_groups: tuple[str, ...]
    settings: tuple[str, ...]
    image_size: int
    epochs: int | None
    out: Path
    executor: str = "local"
    ray_address: str | None = None
    workers: int = 1

    @property
    def spec(self) -> dict[str, object]:
        return {"data": self.data, "methods": self.methods, "backbones": self.backbones,
                "layer_groups": self.layer_groups, "settings": self.settings, "image_size": self.image_size,
                "epochs": self.epochs}


def _check_list(names: list[str], checked: set[str], tips: dict[str, str]) -> QListWidget:
    widget = QListWidget()
    for name in names:
        item = QListWidgetItem(name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if name in checked else Qt.CheckState.Unchecked)
        item.setToolTip(tips.get(name, ""))
        widget.addItem(item)
    widget.setMaximumHeight(22 * min(len(names), 5) + 6)
    return widget


def checked_names(widget: QListWidget) -> tuple[str, ...]:
    return tuple(widget.item(row).text() for row in range(widget.count())
                 if widget.item(row).checkState() == Qt.CheckState.Checked)


def set_checked(widget: QListWidget, names: set[str]) -> None:
    for row in range(widget.count()):
        item = widget.item(row)
        item.setCheckState(Qt.CheckState.Checked if item.text() in names else Qt.CheckState.Unchecked)


class QtGridForm(QWidget):
    """The grid's choices. Example:
        >>> form = QtGridForm(); form.set_request(request); form.request() == request
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.folders = QListWidget()
        self.folders.setMaximumHeight(80)
        self.folders.setToolTip("Category folders (MVTec AD layout): unified cells train on all, per-category "
                                "cells on one each")
        add, remove = QPushButton("Add folder…"), QPushButton("Remove")
        add.clicked.connect(self._choose_folder)
        remove.clicked.connect(self._remove_selected)
        folder_buttons = QVBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch(1)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folders, 1)
        folder_row.addLayout(folder_buttons)

        self.methods = _check_list(list(METHODS), {"stfpm", "paste"},
                                   {name: spec.description for name, spec in METHODS.items()})
        self.backbones = _check_list(list(BACKBONES), {DEFAULT_BACKBONE},
                                     {name: spec.description for name, spec in BACKBONES.items()})
        self.layer_groups = _check_list(list(LAYER_GROUP_DESCRIPTIONS), {"equiv"}, dict(LAYER_GROUP_DESCRIPTIONS))
        self.settings: dict[str, QCheckBox] = {name: QCheckBox(name) for name in SETTINGS}
        self.settings["unified"].setChecked(True)
        settings_row = QHBoxLayout()
        for box in self.settings.values():
            settings_row.addWidget(box)
        settings_row.addStretch(1)
        self.image_size = QComboBox()
        for size in IMAGE_SIZES:
            self.image_size.addItem(f"{size} x {size}", size)
        self.image_size.setCurrentIndex(IMAGE_SIZES.index(256))
        self.epochs = QSpinBox()
        self.epochs.setRange(0, 10_000)
        self.epochs.setSpecialValueText("each method's default")  # shown for 0
        self.out = QLineEdit()
        self.out.setPlaceholderText("results folder (results.json, report.md, figures, models/)")
        browse = QPushButton("…")
        browse.clicked.connect(self._choose_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        self.executor = QComboBox()
        for name in EXECUTORS:
            self.executor.addItem(name, name)
        self.ray_address = QLineEdit()
        self.ray_address.setPlaceholderText("empty: a local Ray runtime; or host:port of a cluster's head")
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.executor.currentIndexChanged.connect(self._executor_changed)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Data", folder_row)
        form.addRow("Methods", self.methods)
        form.addRow("Backbones", self.backbones)
        form.addRow("Layer groups", self.layer_groups)
        form.addRow("Settings", settings_row)
        form.addRow("Image size", self.image_size)
        form.addRow("Epochs", self.epochs)
        form.addRow("Output", out_row)
        form.addRow("Executor", self.executor)
        form.addRow("Ray address", self.ray_address)
        form.addRow("Workers", self.workers)
        self._executor_changed()

    def _executor_changed(self) -> None:
        self.ray_address.setEnabled(self.executor.currentData() == "ray")

    def _remove_selected(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Category folder")
        if folder:
            self.add_folders([Path(folder)])

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Results folder")
        if folder:
            self.out.setText(folder)

    def add_folders(self, folders: list[Path]) -> None:
        known = set(self.data_folders())
        for folder in folders:
            if Path(folder) not in known:
                self.folders.addItem(str(folder))

    def data_folders(self) -> tuple[Path, ...]:
        return tuple(Path(self.folders.item(row).text()) for row in range(self.folders.count()))

    def request(self) -> GridRequest:
        """The grid chosen; `InputError` naming the first thing missing or wrong."""
        data = self.data_folders()
        missing = [folder for folder in data if not folder.is_dir()]
        if not data or missing:
            raise InputError(f"{missing[0]}: not a folder" if missing else
                             "Data: add at least one category folder")
        chosen = {"Methods": checked_names(self.methods), "Backbones": checked_names(self.backbones),
                  "Layer groups": checked_names(self.layer_groups),
                  "Settings": tuple(name for name, box in self.settings.items() if box.isChecked())}
        for label, names in chosen.items():
            if not names:
                raise InputError(f"{label}: tick at least one")
        out = self.out.text().strip()
        if not out:
            raise InputError("Output: choose a results folder (a new one, or one to resume)")
        if Path(out).exists() and not Path(out).is_dir():
            raise InputError(f"{out}: a file where the results folder goes")
        executor = str(self.executor.currentData())
        return GridRequest(data, chosen["Methods"], chosen["Backbones"], chosen["Layer groups"], chosen["Settings"],
                           int(self.image_size.currentData()), self.epochs.value() or None, Path(out), executor,
                           self.ray_address.text().strip() or None if executor == "ray" else None,
                           self.workers.value())

    def set_request(self, request: GridRequest) -> None:
        """Show `request` (the test's choice, or a grid to run again)."""
        self.set_grid(request.data, request.methods, request.backbones, request.layer_groups, request.settings,
                      request.image_size, request.out)
        self.epochs.setValue(request.epochs or 0)
        self.executor.setCurrentIndex(max(0, self.executor.findData(request.executor)))
        self.ray_address.setText(request.ray_address or "")
        self.workers.setValue(request.workers)

    def set_grid(self, data: tuple[Path, ...], methods: tuple[str, ...], backbones: tuple[str, ...],
                 layer_groups: tuple[str, ...], settings: tuple[str, ...], image_size: int | None, out: Path) -> None:
        """Show what a results folder tells of its grid; epochs and executor are left as they are."""
        self.folders.clear()
        self.add_folders(list(data))
        set_checked(self.methods, set(methods))
        set_checked(self.backbones, set(backbones))
        set_checked(self.layer_groups, set(layer_groups))
        for name, box in self.settings.items():
            box.setChecked(name in settings)
        if image_size is not None:
            self.image_size.setCurrentIndex(max(0, self.image_size.findData(image_size)))
        self.out.setText(str(out))
