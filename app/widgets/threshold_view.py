"""The Inspect page's threshold view: where the threshold sits among the model's normal scores and the last live
scores, and what moving it would change before it is applied.

A unified model judges a frame of a known category by that category's threshold scaled by the live slider
(`LiveSettings.threshold_for`). So that one axis serves every category, each score is drawn in slider units:
score x model threshold / its category's threshold. A frame is NG exactly when its scaled score reaches the slider's
threshold, whatever its category, so counting verdicts that would change is comparing scaled scores with two
thresholds.

Example:
    >>> view = QtThresholdView()
    >>> view.set_model({"bottle": [0.2, 0.3]}, {"bottle": 0.4}, model_threshold=0.4, threshold=0.4)
    >>> view.add_scores([(0.35, "bottle"), (0.5, "")]); view.propose(0.3)
    >>> view.changes()
    VerdictChanges(ok_to_ng=1, ng_to_ok=0, frames=2, normal_above=1, normal=2)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

LAST_FRAMES = 200  # the live scores kept: a few seconds of a camera, a shift's worth of a slow line
_SLIDER_STEPS = 1000
_BINS = 40
_NORMAL_BRUSH = (66, 133, 244, 110)
_LIVE_BRUSH = (251, 188, 4, 140)


class VerdictChanges(NamedTuple):
    """At a proposed threshold: live verdicts that would flip (of `frames`), and normal images at or above it."""

    ok_to_ng: int
    ng_to_ok: int
    frames: int
    normal_above: int
    normal: int


class QtThresholdView(QWidget):
    """Histograms of normal and live scores, the live threshold (solid) and a proposed one (dashed) on a slider;
    `applied(threshold)` when the operator applies the proposal."""

    applied = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "score (in the overall threshold's units)")
        self.plot.setLabel("left", "% of images")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.addLegend(offset=(-5, 5))
        self.plot.setMinimumHeight(170)
        self._normal_curve = self.plot.plot(stepMode="center", fillLevel=0, brush=_NORMAL_BRUSH,
                                            pen=pg.mkPen("#4285f4"), name="normal (training)")
        self._live_curve = self.plot.plot(stepMode="center", fillLevel=0, brush=_LIVE_BRUSH,
                                          pen=pg.mkPen("#e37400"), name=f"last {LAST_FRAMES} live")
        self._live_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#c5221f", width=2))
        self._proposed_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#202124", width=2, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self._live_line)
        self.plot.addItem(self._proposed_line)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, _SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slid)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(lambda: self.applied.emit(self.proposed))
        self.summary = QLabel("—")
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Try"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        self._normal = np.zeros(0)
        self._live: deque[float] = deque(maxlen=LAST_FRAMES)
        self._category_scale: dict[str, float] = {}
        self.threshold = self.proposed = 1.0
        self._maximum = 2.0

    # -- what the page tells it ------------------------------------------------------------------------------
    def set_model(self, normal_scores: Mapping[str, Sequence[float]], category_thresholds: Mapping[str, float],
                  model_threshold: float, threshold: float) -> None:
        """A new model: its normal scores per category (empty for models saved before they were kept), its
        category and overall thresholds, and the live threshold. Forgets the live scores of the previous one."""
        self._category_scale = {name: model_threshold / own for name, own in category_thresholds.items() if own > 0}
        self._normal = np.concatenate([np.asarray(scores, np.float64) * self._category_scale.get(name, 1.0)
                                       for name, scores in normal_scores.items()] or [np.zeros(0)])
        self._live.clear()
        # The axis spans what the threshold can sensibly be; scores beyond it (clear defects) pile into the last bin.
        self._maximum = max(2.0 * threshold, 1.2 * float(self._normal.max(initial=0.0)), 1e-9)
        self.set_threshold(threshold)
        self.propose(threshold)

    def add_scores(self, scored: Iterable[tuple[float, str]]) -> None:
        """Live frames' (score, category), category "" when unknown."""
        self._live.extend(score * self._category_scale.get(category, 1.0) for score, category in scored)
        self._redraw()

    def set_threshold(self, threshold: float) -> None:
        """The live threshold moved (the verdict panel's slider, or an applied proposal)."""
        self.threshold = threshold
        self._live_line.setValue(threshold)
        self._redraw()

    def propose(self, threshold: float) -> None:
        self.proposed = float(np.clip(threshold, 0.0, self._maximum))
        self.slider.blockSignals(True)
        self.slider.setValue(round(self.proposed / self._maximum * _SLIDER_STEPS))
        self.slider.blockSignals(False)
        self._proposed_line.setValue(self.proposed)
        self._redraw()

    # -- what it shows ---------------------------------------------------------------------------------------
    def changes(self) -> VerdictChanges:
        live = np.fromiter(self._live, np.float64, len(self._live))
        now, then = live >= self.threshold, live >= self.proposed
        return VerdictChanges(int((then & ~now).sum()), int((now & ~then).sum()), len(live),
                              int((self._normal >= self.proposed).sum()), len(self._normal))

    def _slid(self, position: int) -> None:
        self.propose(position / _SLIDER_STEPS * self._maximum)

    def _redraw(self) -> None:
        edges = np.linspace(0.0, self._maximum, _BINS + 1)
        for curve, values in ((self._normal_curve, self._normal), (self._live_curve, np.asarray(self._live))):
            counts, _ = np.histogram(np.clip(values, 0.0, self._maximum), bins=edges)
            curve.setData(edges, 100.0 * counts / max(1, len(values)))
        change = self.changes()
        normal = (f"normal training images at or above it: {change.normal_above} of {change.normal} "
                  f"({100 * change.normal_above / change.normal:.1f} %)" if change.normal
                  else "this model kept no normal scores (trained before they were)")
        self.summary.setText(
            f"At {self.proposed:.4g} (live {self.threshold:.4g}): {change.ok_to_ng + change.ng_to_ok} of the last "
            f"{change.frames} verdicts would change ({change.ok_to_ng} OK → NG, {change.ng_to_ok} NG → OK); {normal}.")
