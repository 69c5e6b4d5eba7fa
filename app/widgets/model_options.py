"""Method, backbone and layer group, picked from the engine's registries with a one-line description of each,
plus image size and the method's own settings."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from app.widgets.method_settings import QtMethodSettings
from core.backbones.registry import BACKBONES, DEFAULT_BACKBONE, LAYER_GROUP_DESCRIPTIONS
from core.methods.config import ModelConfig
from core.methods.registry import DEFAULT_METHOD, METHODS

IMAGE_SIZES = (64, 128, 192, 224, 256, 320, 384, 512)


def _description_label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color:#555;")
    return label


class QtModelOptions(QWidget):
    """`config()` returns the `ModelConfig` the operator chose (layer group and epochs left to the method's
    defaults unless changed)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method = QComboBox()
        for name, spec in METHODS.items():
            self.method.addItem(f"{name} ({spec.family})", name)
        self.method_help = _description_label()
        self.backbone = QComboBox()
        for name in BACKBONES:
            self.backbone.addItem(name, name)
        self.backbone_help = _description_label()
        self.layer_group = QComboBox()
        self.group_help = _description_label()
        self.image_size = QComboBox()
        for size in IMAGE_SIZES:
            self.image_size.addItem(f"{size} x {size}", size)
        self.method_settings = QtMethodSettings()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Method", self.method)
        form.addRow("", self.method_help)
        form.addRow("Backbone", self.backbone)
        form.addRow("", self.backbone_help)
        form.addRow("Layer group", self.layer_group)
        form.addRow("", self.group_help)
        form.addRow("Image size", self.image_size)
        form.addRow("Settings", self.method_settings)
        self.method.currentIndexChanged.connect(self._method_changed)
        self.backbone.currentIndexChanged.connect(self._backbone_changed)
        self.layer_group.currentIndexChanged.connect(self._group_changed)
        self.set_choice(DEFAULT_METHOD, DEFAULT_BACKBONE, 256)

    def set_choice(self, method: str, backbone: str, image_size: int, layer_group: str = "",
                   **settings: float) -> None:
        """Show this choice; `settings` override the method's defaults by name (epochs=3)."""
        self.backbone.setCurrentIndex(max(0, self.backbone.findData(backbone)))
        self.method.setCurrentIndex(max(0, self.method.findData(method)))
        self._method_changed()
        if settings:
            self.method_settings.show_settings(METHODS[str(self.method.currentData())].settings, settings)
        if layer_group:
            self.layer_group.setCurrentIndex(max(0, self.layer_group.findData(layer_group)))
        index = self.image_size.findData(image_size)
        if index < 0:
            self.image_size.addItem(f"{image_size} x {image_size}", image_size)
            index = self.image_size.count() - 1
        self.image_size.setCurrentIndex(index)

    def config(self) -> ModelConfig:
        method = str(self.method.currentData())
        return ModelConfig(method=method, backbone=str(self.backbone.currentData()),
                           layer_group=str(self.layer_group.currentData()),
                           image_size=int(self.image_size.currentData()),
                           settings=self.method_settings.settings())

    def _method_changed(self) -> None:
        spec = METHODS[str(self.method.currentData())]
        self.method_help.setText(spec.description)
        self.method_settings.show_settings(spec.settings)
        self._fill_groups()

    def _backbone_changed(self) -> None:
        self.backbone_help.setText(BACKBONES[str(self.backbone.currentData())].description)
        self._fill_groups()

    def _fill_groups(self) -> None:
        method = METHODS[str(self.method.currentData())]
        groups = BACKBONES[str(self.backbone.currentData())].groups
        self.layer_group.blockSignals(True)
        self.layer_group.clear()
        for name, layers in groups.items():
            default = " · default" if name == method.default_layer_group else ""
            self.layer_group.addItem(f"{name}  {list(layers)}{default}", name)
        self.layer_group.setCurrentIndex(max(0, self.layer_group.findData(method.default_layer_group)))
        self.layer_group.blockSignals(False)
        self._group_changed()

    def _group_changed(self) -> None:
        group = str(self.layer_group.currentData())
        users = [name for name, spec in METHODS.items() if spec.default_layer_group == group]
        default_of = f" (default of {', '.join(users)})" if users else ""
        self.group_help.setText(LAYER_GROUP_DESCRIPTIONS.get(group, "") + default_of)
