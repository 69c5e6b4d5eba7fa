"""The drift readout: PSI per statistic against the training images, coloured by level, and an alarm banner.

The banner is a separate widget (`alarm`) so that the page can put it where the operator looks, above the live
view, and keep it in kiosk mode.
"""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from core.drift.monitor import DriftState
from core.drift.psi import ALARM, ALARM_PSI, OK, WARN, WARN_PSI
from core.drift.statistics import BRIGHTNESS, CONTRAST, SCORE, SHARPNESS, STATISTICS

_COLOURS = {OK: "#1b7f3b", WARN: "#b06000", ALARM: "#b3261e"}
_WHAT_TO_CHECK = {BRIGHTNESS: "the lighting", CONTRAST: "the exposure", SHARPNESS: "the focus and lens",
                  SCORE: "the parts and the model"}


class QtDriftReadout(QWidget):
    """`show_state(state)` after each judgement, `show_note(text, on)` for the reference's news."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        for row, name in enumerate(STATISTICS):
            grid.addWidget(QLabel(name.capitalize()), row, 0)
            value = QLabel("—")
            value.setToolTip(f"PSI of the last frames against the training images: warn at {WARN_PSI}, alarm at "
                             f"{ALARM_PSI}, once the newest frames' median has moved by more than a tolerance")
            self.values[name] = value
            grid.addWidget(value, row, 1)
        layout.addLayout(grid)
        self.status = QLabel("drift: no model")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#555;")
        layout.addWidget(self.status)
        self.alarm = QLabel()
        self.alarm.setWordWrap(True)
        self.alarm.setStyleSheet("background:#b3261e; color:white; padding:6px; border-radius:4px; font-weight:bold;")
        self.alarm.hide()
        self.state: DriftState | None = None

    def show_note(self, text: str, on: bool = True) -> None:
        self.status.setText(text)
        if not on:
            self.show_state(None)

    def show_state(self, state: DriftState | None) -> None:
        """The PSI and level of each statistic; the banner while any is at alarm."""
        self.state = state
        for name, label in self.values.items():
            value = None if state is None else state.psi.get(name)
            level = OK if state is None else state.levels.get(name, OK)
            if value is None:  # before the first judgement, or too few reference values (held-out scores)
                label.setText("—" if state is None else "n/a: too few normal images to compare with")
            else:
                shift = state.shift.get(name)
                label.setText(f"PSI {value:.2f}  {level}" + ("" if shift is None else f"   (median {shift:+.3g})"))
            colour = "#555" if value is None else _COLOURS[level]  # not judged is not "ok"
            label.setStyleSheet(f"color:{colour}; font-weight:{'bold' if level != OK else 'normal'};")
        if state is not None:
            against = f" of {state.assumed} (the frames name no category)" if state.assumed else ""
            self.status.setText(f"last {state.frames} frames against the training images{against}, at frame "
                                f"{state.frame_index}")
        alarmed = [] if state is None else [name for name in STATISTICS if state.levels.get(name) == ALARM]
        if alarmed:
            checks = ", ".join(dict.fromkeys(_WHAT_TO_CHECK[name] for name in alarmed))
            self.alarm.setText(f"Drift alarm: {', '.join(alarmed)} moved away from the training images over the "
                               f"last {state.frames} frames (PSI {', '.join(f'{state.psi[n]:.2f}' for n in alarmed)})"
                               f". Check {checks} before the verdicts go wrong.")
        self.alarm.setVisible(bool(alarmed))
