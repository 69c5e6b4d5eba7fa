"""The comparison table of precision variants: accuracy, latency, size and drift per variant, and a "Make live"
button on each row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QPushButton, QTableWidget, QTableWidgetItem, QWidget

COLUMNS = ("Variant", "Precision", "Method", "Calibration", "Image AUROC", "Pixel AUROC", "Pixel F1-max",
           "Latency ms", "Size MB", "Drift", "Flips", "")
LIVE_COLUMN = len(COLUMNS) - 1


def variant_cells(name: str, row: dict[str, Any]) -> list[str]:
    """The texts of one row; n/a where a value is unknown (no defect images, no held-out images for drift)."""
    mean = row.get("mean", {})
    drift = row.get("fp32_drift") or {}
    relative = drift.get("max_relative_score_drift")
    return [
        name, str(row.get("precision", "?")).upper(), str(row.get("method", "?")).upper(),
        row.get("calibration") or "—",
        *(_number(mean.get(key), "{:.3f}") for key in ("image_auroc", "pixel_auroc", "pixel_f1_max")),
        _number(row.get("latency_ms_median"), "{:.2f}"),
        _number(row.get("file_bytes") and row["file_bytes"] / 1e6, "{:.2f}"),
        _number(relative if relative is None else 100 * relative, "{:.1f} %"),
        "—" if "verdict_flips" not in row else str(row["verdict_flips"]["count"]),
    ]


def _flips_tooltip(row: dict[str, Any], listed: int = 15) -> str:
    """The test images whose verdict differs from FP32's, one per line, for the Flips cell."""
    flips = row.get("verdict_flips")
    if flips is None:
        return "verdicts against FP32: not measured (FP32 not compared, or this is FP32)"
    if not flips["count"]:
        return "every test image gets the same OK / NG verdict as with FP32"
    lines = [f"{Path(flip['path']).parent.name}/{Path(flip['path']).name}: FP32 {flip['fp32']} -> {flip['variant']}"
             for flip in flips["images"][:listed]]
    more = flips["count"] - len(lines)
    return "\n".join(["Verdict differs from FP32:", *lines, *([f"... and {more} more"] if more > 0 else [])])


def _number(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


class QtVariantTable(QTableWidget):
    """One row per variant, in the order they were measured. `make_live(bundle Path)` is emitted by a row's
    button; `mark_live(bundle)` shows which row the window runs now."""

    make_live = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.horizontalHeaderItem(COLUMNS.index("Drift")).setToolTip(
            "Largest change of the image score against FP32 on the normal images its thresholds came from (held-out, "
            "or a sample of the training ones), relative to FP32's "
            "largest score (n/a without the training folders)")
        self.horizontalHeaderItem(COLUMNS.index("Flips")).setToolTip(
            "Test images whose OK / NG verdict differs from FP32's, each variant at its own thresholds: equal AUROC "
            "can still move parts across the operating threshold")
        self.horizontalHeaderItem(COLUMNS.index("Latency ms")).setToolTip(
            "Median time of one image through ONNX Runtime on this computer's CPU")
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.names: list[str] = []
        self.bundles: dict[str, Path] = {}
        self.live: Path | None = None

    def show_variants(self, variants: dict[str, dict[str, Any]]) -> None:
        self.setRowCount(0)
        self.names, self.bundles = list(variants), {}
        self.setRowCount(len(variants))
        for row, (name, values) in enumerate(variants.items()):
            for column, text in enumerate(variant_cells(name, values)):
                item = QTableWidgetItem(text)
                item.setToolTip(_flips_tooltip(values) if COLUMNS[column] == "Flips" else f"{name}: {COLUMNS[column]}")
                self.setItem(row, column, item)
            bundle = values.get("bundle")
            if bundle:
                self.bundles[name] = Path(bundle)
            button = QPushButton("Make live")
            button.setToolTip(f"Inspect with this variant: {bundle}" if bundle else "no bundle recorded")
            button.setEnabled(bool(bundle) and Path(bundle).is_dir())
            button.clicked.connect(lambda _checked=False, name=name: self.make_live.emit(self.bundles[name]))
            self.setCellWidget(row, LIVE_COLUMN, button)
        self.mark_live(self.live)

    def mark_live(self, bundle: Path | None) -> None:
        """Bold text and a disabled "Live" button on the row whose bundle is the active model."""
        self.live = None if bundle is None else Path(bundle).absolute()
        for row, name in enumerate(self.names):
            is_live = self.live is not None and self.bundles.get(name) == self.live
            for column in range(LIVE_COLUMN):
                item = self.item(row, column)
                if item is not None:
                    font = QFont(item.font())
                    font.setBold(is_live)
                    item.setFont(font)
            button = self.live_button(row)
            if button is not None:
                button.setText("Live" if is_live else "Make live")
                button.setEnabled(not is_live and name in self.bundles and self.bundles[name].is_dir())

    def live_button(self, row: int) -> QPushButton | None:
        widget = self.cellWidget(row, LIVE_COLUMN)
        return widget if isinstance(widget, QPushButton) else None

    def cell_text(self, row: int, column: int) -> str:
        item = self.item(row, column)
        return item.text() if item is not None else ""
