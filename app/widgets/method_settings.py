"""The chosen method's settings as a form: one spin box per field of its `MethodSettings` dataclass, with the
field's help as tooltip and its declared range, rebuilt when the method changes. Nothing here names a method."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QFormLayout, QSpinBox, QWidget

from core.methods.settings import MethodSettings

_INT_LIMIT = 1_000_000
_FLOAT_DECIMALS = 4


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _spin_box(item: Any) -> QSpinBox | QDoubleSpinBox:
    minimum, maximum = item.metadata["minimum"], item.metadata["maximum"]
    if type(item.default) is int:
        box: QSpinBox | QDoubleSpinBox = QSpinBox()
        box.setRange(int(minimum if minimum is not None else -_INT_LIMIT) + int(item.metadata["above"]),
                     int(maximum if maximum is not None else _INT_LIMIT))
    else:
        box = QDoubleSpinBox()
        # Enough decimals to show the default (CFA's radius is 1e-5) with three significant digits.
        decimals = max(_FLOAT_DECIMALS, 3 - math.floor(math.log10(abs(item.default)))) if item.default else 4
        box.setDecimals(decimals)
        step = 10.0 ** -decimals
        box.setRange(float(minimum if minimum is not None else -_INT_LIMIT) + step * item.metadata["above"],
                     float(maximum if maximum is not None else _INT_LIMIT))
        box.setSingleStep(max(step, abs(item.default) / 10 or step))
    box.setValue(item.default)
    box.setToolTip(item.metadata["help"])
    return box


class QtMethodSettings(QWidget):
    """`settings()` returns an instance of the class last shown with `show_settings`.

    Example:
        >>> form = QtMethodSettings(); form.show_settings(StudentSettings, {"epochs": 3})
        >>> form.settings().epochs
        3
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._class: type[MethodSettings] | None = None
        self.controls: dict[str, QSpinBox | QDoubleSpinBox] = {}

    def show_settings(self, settings: type[MethodSettings], values: dict[str, Any] | None = None) -> None:
        """Show the fields of `settings` at their defaults, or at `values` where given."""
        while self._layout.rowCount():
            self._layout.removeRow(0)  # deletes the row's widgets too
        self._class, self.controls = settings, {}
        for item in fields(settings):
            box = _spin_box(item)
            if values and item.name in values:
                box.setValue(values[item.name])
            self.controls[item.name] = box
            self._layout.addRow(_label(item.name), box)

    def settings(self) -> MethodSettings:
        if self._class is None:
            raise RuntimeError("show_settings was never called")
        return self._class(**{name: box.value() for name, box in self.controls.items()})
