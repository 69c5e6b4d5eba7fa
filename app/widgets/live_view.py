"""The live view: the frame as one pyqtgraph ImageItem and the anomaly map as a second one above it, coloured and
made transparent by a 256-entry lookup table (pyqtgraph's VideoSpeedTest idioms: row-major C-contiguous uint8,
fixed levels, no auto-levels, a LUT built once per colour map or opacity change)."""

from __future__ import annotations

import cv2
import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

COLOUR_MAPS = ("jet", "turbo", "inferno", "viridis")


def colour_table(name: str) -> np.ndarray:
    """256 x 3 uint8 RGB for the named colour map (jet as OpenCV draws it, the others from pyqtgraph's own data)."""
    if name == "jet":
        indices = np.arange(256, dtype=np.uint8)[:, None]
        return cv2.cvtColor(cv2.applyColorMap(indices, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)[:, 0, :]
    colours = pg.colormap.get(name).getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.ascontiguousarray(colours, dtype=np.uint8)


def heat_lookup_table(name: str, opacity: float) -> np.ndarray:
    """256 x 4 uint8 RGBA: alpha rises with the value, so normal areas stay clear and the part remains readable."""
    table = np.empty((256, 4), dtype=np.uint8)
    table[:, :3] = colour_table(name)
    table[:, 3] = np.round(np.linspace(0.0, 255.0 * max(0.0, min(1.0, opacity)), 256)).astype(np.uint8)
    return table


class QtLiveView(pg.GraphicsLayoutWidget):
    """Shows a frame (H x W x 3 uint8) with its heat map (h x w uint8 0..255, any size: it is stretched over the
    frame by the item's rectangle, no resampling on the CPU)."""

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.setBackground("#202020")
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.view = self.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setMouseEnabled(False, False)
        self.frame_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item = pg.ImageItem(axisOrder="row-major")
        self.heat_item.setZValue(1)
        self.view.addItem(self.frame_item)
        self.view.addItem(self.heat_item)
        self.colour_map = "jet"
        self.opacity = 0.5
        self.overlay_visible = True
        self._lut = heat_lookup_table(self.colour_map, self.opacity)
        self._shape: tuple[int, int] | None = None
        self._heat: np.ndarray | None = None

    def set_colour_map(self, name: str) -> None:
        self.colour_map = name
        self._rebuild_lut()

    def set_opacity(self, opacity: float) -> None:
        self.opacity = opacity
        self._rebuild_lut()

    def set_overlay_visible(self, visible: bool) -> None:
        self.overlay_visible = visible
        self.heat_item.setVisible(visible)

    def show_frame(self, image: np.ndarray, heat: np.ndarray | None) -> None:
        """Draw a new frame; both arrays must not be changed afterwards (the items keep them for repainting)."""
        height, width = image.shape[:2]
        self.frame_item.setImage(image, autoLevels=False, levels=(0, 255))
        self._heat = heat
        if heat is None:
            self.heat_item.clear()
        else:
            self.heat_item.setImage(heat, autoLevels=False, levels=(0, 255), lut=self._lut)
            self.heat_item.setRect(QRectF(0, 0, width, height))
        if self._shape != (height, width):
            self._shape = (height, width)
            self.view.setRange(QRectF(0, 0, width, height), padding=0)

    def clear_frame(self) -> None:
        """(Not `clear`: GraphicsLayoutWidget binds that name to its layout's clear, which removes the view.)"""
        self.frame_item.clear()
        self.heat_item.clear()
        self._heat = None

    def _rebuild_lut(self) -> None:
        self._lut = heat_lookup_table(self.colour_map, self.opacity)
        if self._heat is not None:
            self.heat_item.setLookupTable(self._lut)
