"""The active model: which model directory the window inspects with, loaded on a worker thread.

Loading verifies the directory (hashes, format version) and opens its runtime (ONNX Runtime on the exported FP32
graph, PyTorch as fallback). A directory that fails keeps the previous model active and says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.qt_worker import QtJobWorker, call_job
from core.runtime import open_runtime


class QtActiveModel(QObject):
    """Holds the runtime in use. Signals: `loading(path)`, `changed(runtime)`, `failed(message)`.

    Example:
        >>> model = QtActiveModel()
        >>> model.changed.connect(page.use_runtime)
        >>> model.load(Path("models/demo"))
    """

    loading = Signal(str)
    changed = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, prefer: str = "auto", threads: int | None = None) -> None:
        super().__init__(parent)
        self.runtime: Any = None
        self.prefer = prefer
        self.threads = threads  # inference threads; None leaves the runtime's default
        self._worker: QtJobWorker | None = None

    @property
    def model_dir(self) -> Path | None:
        return None if self.runtime is None else Path(self.runtime.model_dir)

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def load(self, path: Path) -> None:
        """Start loading `path`; a load already running is left to finish and this one follows it."""
        path, prefer, threads = Path(path), self.prefer, self.threads  # the job must not hold `self` (QtJobWorker)
        worker = QtJobWorker(call_job(lambda: open_runtime(path, prefer, threads)), self)
        worker.succeeded.connect(self._loaded)
        worker.failed.connect(self._not_loaded)
        worker.finished.connect(self._done)
        previous = self._worker
        self._worker = worker
        self.loading.emit(str(path))
        if previous is not None and previous.isRunning():
            previous.finished.connect(worker.start)
        else:
            worker.start()

    def wait(self, milliseconds: int = 30_000) -> None:
        """Block until a running load is done (used on shutdown and by the screenshot command)."""
        if self._worker is not None:
            self._worker.wait(milliseconds)

    def _loaded(self, runtime: Any) -> None:
        self.runtime = runtime
        self.changed.emit(runtime)

    def _not_loaded(self, message: str) -> None:
        self.failed.emit(f"model not loaded, the previous one stays active: {message}")

    def _done(self) -> None:
        worker = self.sender()
        if self._worker is worker:
            self._worker = None
        worker.deleteLater()
