"""Accuracy against latency: one labelled point per variant (mean image AUROC over median latency), coloured by
precision, so the cost of each choice is one glance: up and to the left is better."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

PRECISION_COLOURS = {"fp32": "#4285f4", "fp16": "#fbbc04", "int8": "#34a853"}


class QtAccuracyLatencyPlot(pg.PlotWidget):
    """`show_variants(variants)` redraws; variants without an image AUROC (no defect images) are left out and
    listed in `missing`. `points` maps each drawn variant to its (latency, AUROC)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setTitle("Accuracy against latency")
        self.setLabel("bottom", "median latency on this CPU (ms, one image)")
        self.setLabel("left", "mean image AUROC")
        for side in ("left", "bottom"):  # plain numbers: "0.83", not "830 (x0.001)"
            self.getAxis(side).enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.3)
        self.legend = self.addLegend(offset=(-5, -5))
        self.points: dict[str, tuple[float, float]] = {}
        self.missing: list[str] = []
        self._items: list[Any] = []
        self.live: str | None = None

    def show_variants(self, variants: dict[str, dict[str, Any]], live: str | None = None) -> None:
        for item in self._items:
            self.removeItem(item)
        self.legend.clear()
        self._items, self.points, self.missing, self.live = [], {}, [], live
        by_precision: dict[str, list[tuple[str, float, float]]] = {}
        for name, row in variants.items():
            auroc, latency = row.get("mean", {}).get("image_auroc"), row.get("latency_ms_median")
            if auroc is None or latency is None:
                self.missing.append(name)
                continue
            self.points[name] = (float(latency), float(auroc))
            by_precision.setdefault(str(row.get("precision")), []).append((name, float(latency), float(auroc)))
        for precision, entries in by_precision.items():
            colour = PRECISION_COLOURS.get(precision, "#5f6368")
            scatter = pg.ScatterPlotItem([x for _, x, _ in entries], [y for _, _, y in entries], size=12,
                                         brush=pg.mkBrush(colour), pen=pg.mkPen("#333"), name=precision.upper())
            self.addItem(scatter)
            self._items.append(scatter)
        # Labels alternate above and below their points, in order of latency, so that neighbours do not overlap.
        for index, (name, (x, y)) in enumerate(sorted(self.points.items(), key=lambda item: item[1])):
            label = pg.TextItem(name + ("  (live)" if name == live else ""), color="#202124",
                                anchor=(0, 1) if index % 2 == 0 else (0, 0))
            label.setPos(x, y)
            self.addItem(label)
            self._items.append(label)
        if live in self.points:
            x, y = self.points[live]
            ring = pg.ScatterPlotItem([x], [y], size=22, brush=None, pen=pg.mkPen("#ea4335", width=2))
            self.addItem(ring)
            self._items.append(ring)
        if self.points:
            self.autoRange(padding=0.25)
