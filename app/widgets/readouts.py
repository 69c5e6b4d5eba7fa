"""Readouts while inspecting: the latency split of the last frame, frames per second, dropped frames, memory,
model size and runtime, and a rolling plot of the latency split."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import psutil
import pyqtgraph as pg
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from core.sources.live import Timings

PLOT_FRAMES = 300
_STAGES = (("capture + pre", "#4285f4"), ("inference", "#ea4335"), ("post + overlay", "#e37400"))


def gpu_memory_text() -> str:
    """Used / total memory of the first CUDA device, or why there is none to show.

    Read through torch only when a page has already loaded it: importing torch for this one readout would cost the
    inspecting window seconds and hundreds of MB (ONNX Runtime and TensorRT have no such query of their own)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "n/a (torch not loaded)"
    if not torch.cuda.is_available():
        return "no GPU"
    free, total = torch.cuda.mem_get_info()
    return f"{(total - free) / 2**20:.0f} / {total / 2**20:.0f} MB"


class QtLatencyPlot(pg.PlotWidget):
    """The last `PLOT_FRAMES` frames' milliseconds per stage, as three lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setLabel("left", "ms")
        self.setLabel("bottom", "frame")
        self.showGrid(y=True, alpha=0.3)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self._history: deque[Timings] = deque(maxlen=PLOT_FRAMES)
        self._first_index = 0
        self._curves = [self.plot(pen=pg.mkPen(colour, width=2), name=name) for name, colour in _STAGES]

    def append(self, timings: Sequence[Timings]) -> None:
        overflow = max(0, len(self._history) + len(timings) - PLOT_FRAMES)
        self._first_index += overflow
        self._history.extend(timings)
        if not self._history:
            return
        values = np.array([(t.capture_ms, t.inference_ms, t.post_ms) for t in self._history], dtype=np.float32)
        frames = np.arange(self._first_index, self._first_index + len(values))
        for column, curve in enumerate(self._curves):
            curve.setData(frames, values[:, column])

    def clear_history(self) -> None:
        self._history.clear()
        for curve in self._curves:
            curve.setData([], [])


class QtReadouts(QWidget):
    """Numbers as labels (each readable by name in `values()`, which the tests use), and the rolling latency plot
    `plot`, which the page places where it has room (it is not part of this widget's layout)."""

    NAMES = ("capture + pre-processing", "inference", "post-processing + overlay", "frames per second",
             "dropped frames", "process memory (RSS)", "GPU memory", "model size on disk", "runtime", "INT8 path",
             "source")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.labels: dict[str, QLabel] = {}
        colours = dict(zip(self.NAMES[:3], (colour for _, colour in _STAGES)))
        for name in self.NAMES:
            label = QLabel("—")
            label.setWordWrap(name == "source")
            self.labels[name] = label
            title = QLabel(name)
            if name in colours:  # the plot's lines have these colours: the labels are its legend
                title.setStyleSheet(f"color:{colours[name]}; font-weight:bold;")
            form.addRow(title, label)
        self.plot = QtLatencyPlot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addStretch(1)
        self._process = psutil.Process()
        self.device_mode = False  # the numbers are a Jetson's (jetson:// source), not this machine's

    def values(self) -> dict[str, str]:
        return {name: label.text() for name, label in self.labels.items()}

    def set_value(self, name: str, text: str) -> None:
        self.labels[name].setText(text)

    def show_timings(self, latest: Timings, history: Sequence[Timings]) -> None:
        self.set_value("capture + pre-processing", f"{latest.capture_ms:.1f} ms")
        self.set_value("inference", f"{latest.inference_ms:.1f} ms")
        self.set_value("post-processing + overlay", f"{latest.post_ms:.1f} ms")
        self.plot.append(history)

    def show_rates(self, fps: float, source_dropped: int, display_dropped: int) -> None:
        if not self.device_mode:  # a device's own rate comes with its status (`show_device`)
            self.set_value("frames per second", f"{fps:.1f}")
        self.set_value("dropped frames", f"{source_dropped} at capture, {display_dropped} at display")

    def show_device(self, status: Mapping[str, Any]) -> None:
        """A Jetson's own figures (its status file), each marked as the device's: memory, engine, FPS."""
        self.device_mode = True
        memory = status.get("memory") or {}
        self.set_value("process memory (RSS)", f"device: {memory.get('process_rss_mb', 0):.0f} MB (live.py)")
        shared = memory.get("shared_ram_used_mb")
        self.set_value("GPU memory", f"device: {shared:.0f} / {memory.get('shared_ram_total_mb', 0):.0f} MB shared "
                                     f"RAM ({status.get('memory_source', '')})" if shared is not None
                       else f"device: n/a ({status.get('memory_source', 'no tegrastats')})")
        self.set_value("runtime", f"device: {status.get('engine', '?')}")
        self.set_value("model size on disk", f"device release {status.get('release', '?')}")
        self.set_value("frames per second", f"{float(status.get('fps', 0.0)):.1f} on the device")

    def show_local(self) -> None:
        """Back to this machine's own figures after watching a device."""
        self.device_mode = False
        self.refresh_memory()

    def show_model(self, runtime_name: str, model_bytes: int, integer_path: str) -> None:
        self.set_value("runtime", runtime_name)
        self.set_value("INT8 path", integer_path)  # which CPU kernels an INT8 model runs on (VNNI or not)
        self.set_value("model size on disk", f"{model_bytes / 2**20:.1f} MB")

    def refresh_memory(self) -> None:
        """Called by a once-a-second timer on the UI thread (cheap: one /proc read); not while the numbers are a
        device's (`show_device`)."""
        if self.device_mode:
            return
        self.set_value("process memory (RSS)", f"{self._process.memory_info().rss / 2**20:.0f} MB")
        self.set_value("GPU memory", gpu_memory_text())
