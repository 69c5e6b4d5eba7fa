"""The verdict panel: OK / NG in letters big enough to read from a step away, the score against a threshold the
operator can move, the category when known, and the counters."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout,
                               QWidget)

_SLIDER_STEPS = 1000
_OK_STYLE = "background:#1e8e3e; color:white; border-radius:8px;"
_NG_STYLE = "background:#c5221f; color:white; border-radius:8px;"
_IDLE_STYLE = "background:#5f6368; color:white; border-radius:8px;"


class QtThresholdControl(QWidget):
    """A slider and a spin box kept in step both ways (a small binder), emitting `changed(threshold)`."""

    changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, _SLIDER_STEPS)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(4)
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Threshold"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self._maximum = 1.0
        self._updating = False
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)

    def set_range(self, maximum: float, value: float) -> None:
        """The slider spans 0..maximum; `value` is where it starts (the model's own threshold)."""
        self._maximum = max(maximum, 1e-9)
        self.spin.setRange(0.0, self._maximum)
        self.spin.setSingleStep(self._maximum / 200)
        self.spin.setDecimals(max(2, 4 - len(str(int(self._maximum)))))
        self.set_value(value)

    def value(self) -> float:
        return float(self.spin.value())

    def set_value(self, value: float) -> None:
        self._updating = True
        self.spin.setValue(value)
        self.slider.setValue(round(value / self._maximum * _SLIDER_STEPS))
        self._updating = False
        self.changed.emit(self.value())

    def _from_slider(self, position: int) -> None:
        if not self._updating:
            self._updating = True
            self.spin.setValue(position / _SLIDER_STEPS * self._maximum)
            self._updating = False
            self.changed.emit(self.value())

    def _from_spin(self, value: float) -> None:
        if not self._updating:
            self._updating = True
            self.slider.setValue(round(value / self._maximum * _SLIDER_STEPS))
            self._updating = False
            self.changed.emit(self.value())


class QtVerdictPanel(QWidget):
    """Verdict, score, threshold control, category and counters (inspected, NG, NG rate) with a reset button."""

    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = QLabel("—")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setMinimumHeight(110)
        font = self.verdict.font()
        font.setPointSize(56)
        font.setBold(True)
        self.verdict.setFont(font)
        self.verdict.setStyleSheet(_IDLE_STYLE)
        self.score = QLabel("score —")
        score_font = self.score.font()
        score_font.setPointSize(15)
        self.score.setFont(score_font)
        self.category = QLabel("")
        self.category.setFont(score_font)
        self.threshold = QtThresholdControl()
        self.inspected = QLabel("0")
        self.ng = QLabel("0")
        self.ng_rate = QLabel("—")
        reset = QPushButton("Reset counters")
        reset.clicked.connect(self.reset_requested)
        counters = QGridLayout()
        for column, (name, label) in enumerate((("Inspected", self.inspected), ("NG", self.ng),
                                                ("NG rate", self.ng_rate))):
            title = QLabel(name)
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setFont(score_font)
            counters.addWidget(title, 0, column)
            counters.addWidget(label, 1, column)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict)
        layout.addWidget(self.score)
        layout.addWidget(self.category)
        layout.addWidget(self.threshold)
        layout.addLayout(counters)
        layout.addWidget(reset)
        layout.addStretch(1)  # keep the panel together at the top when it has more height than it needs
        self.reset_button = reset

    def set_compact(self, compact: bool) -> None:
        """Kiosk mode: verdict, score, category and counters only (nothing an operator on the line should touch)."""
        self.threshold.setVisible(not compact)
        self.reset_button.setVisible(not compact)

    def show_verdict(self, is_ng: bool, score: float, threshold: float, category: str) -> None:
        self.verdict.setText("NG" if is_ng else "OK")
        self.verdict.setStyleSheet(_NG_STYLE if is_ng else _OK_STYLE)
        self.score.setText(f"score {score:.4g}  {'≥' if is_ng else '<'}  threshold {threshold:.4g}")
        self.category.setText(f"category: {category}" if category else "category: not known")

    def show_idle(self, text: str = "—") -> None:
        self.verdict.setText(text)
        self.verdict.setStyleSheet(_IDLE_STYLE)

    def show_counters(self, inspected: int, ng: int) -> None:
        self.inspected.setText(str(inspected))
        self.ng.setText(str(ng))
        self.ng_rate.setText(f"{100 * ng / inspected:.1f} %" if inspected else "—")
