"""The Train page's plots and table: the live loss curve, per-category results and ROC curves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.metrics import roc_points

RESULT_COLUMNS = (("image_auroc", "Image AUROC"), ("pixel_auroc", "Pixel AUROC"), ("pixel_f1_max", "Pixel F1-max"),
                  ("aupro", "AUPRO"), ("image_f1", "Image F1"), ("image_f1_max", "Image F1-max"), ("n_images", "Images"))
_CURVE_COLOURS = ("#4285f4", "#ea4335", "#fbbc04", "#34a853", "#a142f4", "#24c1e0", "#f538a0", "#5f6368")


class QtLossPlot(pg.PlotWidget):
    """Training loss per step, appended as the job reports it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setTitle("Training loss")
        self.setLabel("bottom", "step")
        self.showGrid(x=True, y=True, alpha=0.3)
        self.curve = self.plot(pen=pg.mkPen("#4285f4", width=2))
        self.steps: list[float] = []
        self.losses: list[float] = []

    def add(self, step: float, loss: float) -> None:
        self.steps.append(step)
        self.losses.append(loss)
        self.curve.setData(np.asarray(self.steps), np.asarray(self.losses))

    def reset(self) -> None:
        self.steps, self.losses = [], []
        self.curve.setData([], [])


class QtResultsTable(QTableWidget):
    """One row per category and a mean row; n/a where a metric is undefined (no defect images, say)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(RESULT_COLUMNS) + 1, parent)
        self.setHorizontalHeaderLabels(["Category", *(title for _, title in RESULT_COLUMNS)])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

    def show_results(self, results: dict[str, Any]) -> None:
        rows = [*results["categories"].items(), ("mean", results["mean"])] if results["categories"] else []
        rows += [(name, {"note": reason}) for name, reason in results.get("skipped", {}).items()]
        self.setRowCount(len(rows))
        for row, (name, metrics) in enumerate(rows):
            self.setItem(row, 0, QTableWidgetItem(name))
            if "note" in metrics:
                self.setItem(row, 1, QTableWidgetItem(f"skipped: {metrics['note']}"))
                self.setSpan(row, 1, 1, len(RESULT_COLUMNS))
                continue
            for column, (key, _) in enumerate(RESULT_COLUMNS, start=1):
                value = metrics.get(key)
                text = "n/a" if value is None else (str(value) if key == "n_images" else f"{value:.3f}")
                self.setItem(row, column, QTableWidgetItem(text))

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""


class QtRocPlot(pg.PlotWidget):
    """Image-level ROC curve of each category that has good and defective test images."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setTitle("ROC (image level)")
        self.setLabel("bottom", "false positive rate")
        self.setLabel("left", "true positive rate")
        self.setXRange(0, 1)
        self.setYRange(0, 1)
        self.showGrid(x=True, y=True, alpha=0.3)
        self.legend = self.addLegend(offset=(-5, 5))
        self.plot([0, 1], [0, 1], pen=pg.mkPen("#999", style=pg.QtCore.Qt.PenStyle.DashLine))
        self.curves: dict[str, Any] = {}

    def show_scores(self, scores: dict[str, dict[str, list[float]]], aurocs: dict[str, Any]) -> None:
        for curve in self.curves.values():
            self.removeItem(curve)
        self.legend.clear()
        self.curves = {}
        for index, (name, data) in enumerate(scores.items()):
            labels = np.asarray(data["labels"])
            if labels.min(initial=0) == labels.max(initial=0):
                continue  # one class only: no curve
            fpr, tpr = roc_points(labels, np.asarray(data["scores"]))
            auroc = aurocs.get(name, {}).get("image_auroc")
            title = f"{name} ({auroc:.3f})" if auroc is not None else name
            pen = pg.mkPen(_CURVE_COLOURS[index % len(_CURVE_COLOURS)], width=2)
            self.curves[name] = self.plot(fpr, tpr, pen=pen, name=title)
