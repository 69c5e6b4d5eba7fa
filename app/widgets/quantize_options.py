"""The choices behind one precision variant: precision, PTQ or QAT, calibration source, samples, range method,
target and QAT epochs. Options that do not apply to the current choice are disabled, not hidden, so the form
keeps its shape."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QSpinBox, QWidget

from app.settings import AppSettings
from core.export.calibration import CALIBRATION_SOURCES
from core.export.ptq import RANGE_METHODS
from core.export.variants import PRECISIONS, TARGETS, VariantSpec
from core.methods.registry import METHODS

PRECISION_TITLES = {"fp32": "FP32", "fp16": "FP16", "int8": "INT8"}
METHOD_TITLES = {"ptq": "PTQ: post-training quantization (calibration only, seconds)",
                 "qat": "QAT: quantization-aware fine-tuning (minutes)"}
CALIBRATION_TITLES = {"train": "training normal images", "heldout": "held-out normal images",
                      "random-normal": "random-normal inputs (no images needed)"}
RANGE_TITLES = {"minmax": "min-max", "entropy": "entropy", "percentile": "percentile"}
TARGET_TITLES = {"cpu": "CPU (ONNX Runtime, uint8 activations)", "tensorrt8": "TensorRT 8.5 (Jetson, JetPack 5)",
                 "tensorrt10": "TensorRT 10 (Jetson, JetPack 6)"}


def _combo(titles: dict[str, str], names: tuple[str, ...]) -> QComboBox:
    combo = QComboBox()
    for name in names:
        combo.addItem(titles.get(name, name), name)
    return combo


def _select(combo: QComboBox, name: str | None) -> None:
    """Show the item whose data is `name`; an unknown name (an old setting, None) leaves the choice as it is."""
    index = combo.findData(name)
    if index >= 0:
        combo.setCurrentIndex(index)


class QtQuantizeOptions(QWidget):
    """`spec()` is the `VariantSpec` the form shows; `changed` fires on every edit. `set_model_method` tells it
    which method the model uses (QAT is offered for the methods that train only).

    Example:
        >>> options = QtQuantizeOptions(); options.set_choice(VariantSpec("int8", "ptq", "train"))
        >>> options.spec().name
        'int8-ptq-train-cpu'
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.precision = _combo(PRECISION_TITLES, PRECISIONS)
        self.method = _combo(METHOD_TITLES, ("ptq", "qat"))
        self.calibration = _combo(CALIBRATION_TITLES, CALIBRATION_SOURCES)
        self.samples = QSpinBox()
        self.samples.setRange(1, 4096)
        self.samples.setValue(64)
        self.range_method = _combo(RANGE_TITLES, RANGE_METHODS)
        self.target = _combo(TARGET_TITLES, TARGETS)
        self.qat_epochs = QSpinBox()
        self.qat_epochs.setRange(1, 100)
        self.qat_epochs.setValue(2)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#555;")
        self._trainable = True
        self._model_method = ""
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Precision", self.precision)
        form.addRow("INT8 by", self.method)
        form.addRow("Calibration", self.calibration)
        form.addRow("Samples", self.samples)
        form.addRow("Range method", self.range_method)
        form.addRow("QAT epochs", self.qat_epochs)
        form.addRow("Target", self.target)
        form.addRow("", self.note)
        for combo in (self.precision, self.method, self.calibration, self.range_method, self.target):
            combo.currentIndexChanged.connect(self._update)
        for spin in (self.samples, self.qat_epochs):
            spin.valueChanged.connect(self._update)
        _select(self.precision, "int8")  # the interesting choice is the default: INT8 PTQ on random-normal inputs
        _select(self.calibration, "random-normal")
        self._update()

    def set_model_method(self, method: str) -> None:
        """QAT needs a network to fine-tune: offered for the methods whose spec says they train."""
        self._model_method = method
        self._trainable = method in METHODS and METHODS[method].trains
        self._update()

    def set_choice(self, spec: VariantSpec) -> None:
        _select(self.precision, spec.precision)
        _select(self.method, spec.method)
        _select(self.calibration, spec.calibration)
        _select(self.range_method, spec.range_method)
        _select(self.target, spec.target)
        self.samples.setValue(spec.calibration_samples)
        self.qat_epochs.setValue(spec.qat_epochs)

    def spec(self) -> VariantSpec:
        precision = self.precision.currentData()
        method = self.method.currentData() if precision == "int8" else "none"
        return VariantSpec(precision=precision, method=method,
                           calibration=self.calibration.currentData() if method == "ptq" else None,
                           target=self.target.currentData(), range_method=self.range_method.currentData(),
                           calibration_samples=self.samples.value(), qat_epochs=self.qat_epochs.value())

    def save(self, settings: AppSettings) -> None:
        for key, combo in self._combos():
            settings.set_value(f"quantize/{key}", combo.currentData())
        settings.set_value("quantize/samples", self.samples.value())
        settings.set_value("quantize/qat_epochs", self.qat_epochs.value())

    def restore(self, settings: AppSettings) -> None:
        for key, combo in self._combos():
            _select(combo, settings.value(f"quantize/{key}", ""))
        self.samples.setValue(int(settings.number("quantize/samples", self.samples.value())))
        self.qat_epochs.setValue(int(settings.number("quantize/qat_epochs", self.qat_epochs.value())))

    def _combos(self) -> tuple[tuple[str, QComboBox], ...]:
        return (("precision", self.precision), ("method", self.method), ("calibration", self.calibration),
                ("range_method", self.range_method), ("target", self.target))

    def _update(self) -> None:
        int8 = self.precision.currentData() == "int8"
        if not self._trainable and self.method.currentData() == "qat":
            self.method.setCurrentIndex(self.method.findData("ptq"))
        ptq = int8 and self.method.currentData() == "ptq"
        self.method.setEnabled(int8)
        qat_item = self.method.model().item(self.method.findData("qat"))  # type: ignore[attr-defined]
        qat_item.setEnabled(self._trainable)
        for widget in (self.calibration, self.samples, self.range_method):
            widget.setEnabled(ptq)
        self.qat_epochs.setEnabled(int8 and not ptq)
        self.note.setText(self._describe(int8, ptq))
        self.changed.emit()

    def _describe(self, int8: bool, ptq: bool) -> str:
        target = self.target.currentData()
        if not int8:
            return ("FP16 for TensorRT: the FP32 graph, built with --fp16 on the device."
                    if self.precision.currentData() == "fp16" and target != "cpu" else "")
        if ptq:
            flavour = ("uint8 activations, int8 weights (fast with ONNX Runtime on x86)" if target == "cpu"
                       else "symmetric int8, zero points 0, Q/DQ placed for TensorRT to fuse")
            return f"Static Q/DQ quantization: {flavour}."
        if self._trainable:
            return "Fine-tunes a copy with fake quantization; the frozen parts stay as they were."
        trainable = ", ".join(name for name, spec in METHODS.items() if spec.trains)
        return f"QAT needs a method that trains a network ({trainable}): {self._model_method} has none to fine-tune."
