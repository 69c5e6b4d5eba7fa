"""How the anomaly map is drawn (colour map, opacity, on/off) and where NG frames are saved."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QPushButton, QSlider,
                               QWidget)

from app.widgets.live_view import COLOUR_MAPS


class QtOverlayControls(QWidget):
    """Emits `colour_map_changed(name)`, `opacity_changed(0..1)`, `overlay_toggled(bool)`, `save_folder_changed`."""

    colour_map_changed = Signal(str)
    opacity_changed = Signal(float)
    overlay_toggled = Signal(bool)
    save_folder_changed = Signal(object)  # Path or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour_map = QComboBox()
        self.colour_map.addItems(COLOUR_MAPS)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.overlay = QCheckBox("show anomaly map")
        self.overlay.setChecked(True)
        self.save_ng = QCheckBox("save NG frames with overlay")
        self.save_folder_button = QPushButton("Folder…")
        self.save_folder: Path | None = None
        save_row = QHBoxLayout()
        save_row.setContentsMargins(0, 0, 0, 0)
        save_row.addWidget(self.save_ng, 1)
        save_row.addWidget(self.save_folder_button)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Colour map", self.colour_map)
        form.addRow("Opacity", self.opacity)
        form.addRow("", self.overlay)
        form.addRow("", save_row)
        self.colour_map.currentTextChanged.connect(self.colour_map_changed)
        self.opacity.valueChanged.connect(lambda value: self.opacity_changed.emit(value / 100))
        self.overlay.toggled.connect(self.overlay_toggled)
        self.save_ng.toggled.connect(lambda _: self.save_folder_changed.emit(self.active_save_folder()))
        self.save_folder_button.clicked.connect(self._choose_folder)

    def set_save_folder(self, folder: Path | None) -> None:
        self.save_folder = folder
        self.save_ng.setToolTip(str(folder) if folder else "choose a folder first")
        self.save_ng.setText(f"save NG frames to {folder.name}/" if folder else "save NG frames with overlay")
        self.save_folder_changed.emit(self.active_save_folder())

    def active_save_folder(self) -> Path | None:
        return self.save_folder if self.save_ng.isChecked() else None

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save NG frames to")
        if folder:
            self.set_save_folder(Path(folder))
            self.save_ng.setChecked(True)
