"""Accuracy against latency and against memory, one point per done cell coloured by method, the Pareto-front cells
ringed in red: up and to the left is better, and the ringed points are the only ones worth choosing. Clicking a
point emits `chosen(cell name)`; the chosen cell is drawn larger."""

from __future__ import annotations

import math
from functools import partial
from collections.abc import Mapping, Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from core.benchmark.palette import colours_by_name
from core.benchmark.values import LABELS, is_done, value

Record = Mapping[str, Any]
FRONT_PEN = pg.mkPen("#d93025", width=2.5)


class QtLogAxis(pg.AxisItem):
    """A log axis labelled in plain numbers at 1, 2 and 5 of each decade ("20", "50", "100"), the other ticks
    unlabelled: pyqtgraph's own labels ("2·10¹" at every tick) crowd into each other."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        labels = []
        for exponent in values:
            number = 10 ** float(exponent) * scale
            leading = round(number / 10 ** math.floor(math.log10(number))) if number > 0 else 0
            labels.append(f"{number:g}" if leading in (1, 2, 5) else "")
        return labels


class QtParetoPlots(QWidget):
    """`show_records(records, front, accuracy, latency)` redraws both plots; `set_selected(name)` moves the black
    ring of the chosen cell. `points[plot][name]` is the (x, y) drawn for each cell; cells missing a value on a
    plot's axes are left out of that plot only."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = {key: pg.PlotWidget(axisItems={"bottom": QtLogAxis("bottom")}) for key in ("latency", "memory")}
        # The legend is a line of text above the plots, not pyqtgraph's box inside one: that box hides points.
        self.legend = QLabel()
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.legend)
        layout.addLayout(row, 1)
        for plot in self.plots.values():
            plot.setBackground("w")
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLogMode(x=True, y=False)  # cells differ by orders of magnitude in cost
            plot.getAxis("left").enableAutoSIPrefix(False)
            row.addWidget(plot)
        self.points: dict[str, dict[str, tuple[float, float]]] = {"latency": {}, "memory": {}}
        self.front: set[str] = set()
        self.selected: str | None = None
        self._items: list[tuple[pg.PlotWidget, Any]] = []
        self._selection_rings = {key: pg.PlotDataItem([], [], pen=None, symbol="o", symbolSize=28, symbolBrush=None,
                                                      symbolPen=pg.mkPen("#202124", width=2))
                                 for key in self.plots}
        for key, ring in self._selection_rings.items():
            ring.setZValue(10)
            self.plots[key].addItem(ring)

    def show_records(self, records: Sequence[Record], front: set[str], accuracy: str = "pixel_f1_max",
                     latency: str = "latency_fp32") -> None:
        for plot, item in self._items:
            plot.removeItem(item)
        self._items, self.front = [], set(front)
        # The done cells' methods, as the PNG figures colour them.
        colours = colours_by_name(str(record["method"]) for record in records if is_done(record))
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(
            [f'<span style="color:{colour}; font-size:14pt;">●</span> {method}' for method, colour in colours.items()]
            + ['<span style="color:#d93025; font-size:14pt;">○</span> Pareto front',
               '<span style="color:#202124; font-size:14pt;">○</span> chosen cell']))
        for key, cost in (("latency", latency), ("memory", "memory_mb")):
            plot = self.plots[key]
            plot.setTitle(f"{LABELS[accuracy]} against {LABELS[cost].split(' (')[0]}")
            plot.setLabel("bottom", LABELS[cost] + ", log scale")
            plot.setLabel("left", LABELS[accuracy])
            self.points[key] = self._draw(plot, records, accuracy, cost, colours)
            if self.points[key]:
                plot.autoRange(items=[item for owner, item in self._items if owner is plot], padding=0.15)
        self.set_selected(self.selected)

    def set_selected(self, name: str | None) -> None:
        self.selected = name
        for key, ring in self._selection_rings.items():
            point = self.points[key].get(name or "")
            ring.setData([point[0]] if point else [], [point[1]] if point else [])

    def _draw(self, plot: pg.PlotWidget, records: Sequence[Record], accuracy: str, cost: str,
              colours: dict[str, str]) -> dict[str, tuple[float, float]]:
        points: dict[str, tuple[float, float]] = {}
        by_method: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            x, y = value(record, cost), value(record, accuracy)
            if not is_done(record) or x is None or y is None or x <= 0:
                continue
            name = str(record["name"])
            points[name] = (x, y)
            by_method.setdefault(str(record["method"]), []).append(
                {"pos": (x, y), "data": name})
        # PlotDataItem rather than a bare ScatterPlotItem: it follows the plot's log mode.
        for method, spots in by_method.items():
            item = pg.PlotDataItem([spot["pos"][0] for spot in spots], [spot["pos"][1] for spot in spots], pen=None,
                                   symbol="o", symbolBrush=pg.mkBrush(colours[method]), symbolPen=pg.mkPen("#333"),
                                   symbolSize=11, data=[spot["data"] for spot in spots])
            item.sigPointsClicked.connect(self._clicked)
            self._add(plot, item)
        ringed = [points[name] for name in sorted(self.front) if name in points]
        if ringed:
            rings = pg.PlotDataItem([x for x, _ in ringed], [y for _, y in ringed], pen=None, symbol="o",
                                    symbolSize=20, symbolBrush=None, symbolPen=FRONT_PEN)
            self._add(plot, rings)
        return points

    def _add(self, plot: pg.PlotWidget, item: Any) -> None:
        plot.addItem(item)
        self._items.append((plot, item))

    def _clicked(self, _item: Any, spots: Any, *_: Any) -> None:
        if len(spots):  # after the click is handled: choosing a cell may redraw the item that was clicked
            QTimer.singleShot(0, partial(self.chosen.emit, str(spots[0].data())))
