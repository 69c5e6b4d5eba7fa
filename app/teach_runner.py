"""Teach by correction and rollback from the window: the engine's jobs on a worker thread, one at a time.

`QtTeachRunner.teach(model_dir, frames)` runs `core.teaching.job.teach_job` in a child process (the window itself
never imports torch, issue 14, and the graph export must not hold the live view's GIL); `rollback(model_dir, n)` makes an earlier version current. Both say what
happened on `message(text, kind)` for a page's banner and, when the model directory changed, emit
`model_changed(model_dir)`: the main window reloads the live runtime from it at once. `fine_tune(model_dir)`
trains a method that learns by training on the frames it kept (`core.teaching.fine_tune`) in a child process, with
progress and cancel.

Example:
    >>> runner = QtTeachRunner(audit_db)
    >>> runner.model_changed.connect(active_model.load)
    >>> runner.teach(Path("models/line1"), [Frame("frame 12", pixels, "bottle")])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.qt_worker import QtJobWorker, call_job
from core.jobs import Progress
from core.teaching.images import Frame


class QtTeachRunner(QObject):
    """Signals: `busy(bool)`, `progressed(text)`, `message(text, kind)`, `model_changed(path)`, `taught(result)`."""

    busy = Signal(bool)
    progressed = Signal(str)
    stepped = Signal(int, int)  # step, total (0: not known) of the running job
    message = Signal(str, str)
    model_changed = Signal(object)
    taught = Signal(object)  # the TeachResult

    def __init__(self, audit_db: Path | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.audit_db = audit_db
        self.worker: QtJobWorker | None = None

    @property
    def running(self) -> bool:
        return self.worker is not None

    def teach(self, model_dir: Path, frames: Sequence[Frame], reason: str | None = None) -> bool:
        """Start teaching `frames` as good; False (and a message) when a teach or rollback is already running."""
        if self._refuse_while_running():
            return False
        from app.engine_jobs import teaching_job  # torch: only once the operator teaches
        from app.process_worker import QtProcessJobWorker

        # In a child process, like training: the graph export holds the GIL for a second or two, which a thread
        # would take from the live view.
        model_dir = Path(model_dir)
        self._start_worker(QtProcessJobWorker(teaching_job, (model_dir, list(frames), self.audit_db, reason), self),
                           model_dir, self._teach_done)
        self.message.emit(f"Teaching {len(frames)} frame(s) as good to {model_dir.name}…", "info")
        return True

    def fine_tune(self, model_dir: Path, epochs: int | None = None) -> bool:
        """Fine-tune a trained method on the frames kept in `model_dir`, in a child process (it trains: the window
        stays fluid, and Cancel stops it within a second), checked and kept as a new version."""
        if self._refuse_while_running():
            return False
        from app.engine_jobs import fine_tuning_job  # torch: only when the operator asks for a fine-tune
        from app.process_worker import QtProcessJobWorker

        model_dir = Path(model_dir)
        self._start_worker(QtProcessJobWorker(fine_tuning_job, (model_dir, epochs, self.audit_db), self), model_dir,
                           self._teach_done)
        self.message.emit(f"Fine-tuning {model_dir.name} on its kept frames…", "info")
        return True

    def rollback(self, model_dir: Path, number: int) -> bool:
        if self._refuse_while_running():
            return False
        from core.model_versions import rollback  # torch-free, quick

        model_dir = Path(model_dir)
        self._start(call_job(lambda: rollback(model_dir, number)), model_dir, self._rollback_done)
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _refuse_while_running(self) -> bool:
        if self.worker is not None:
            self.message.emit("A teach or rollback is still running; wait for it to finish", "warning")
            return True
        return False

    def _start(self, job: Any, model_dir: Path, done: Any) -> None:
        self._start_worker(QtJobWorker(job, self), model_dir, done)

    def _start_worker(self, worker: Any, model_dir: Path, done: Any) -> None:
        # Bound methods of this QObject, never lambdas: a queued connection runs them on the UI thread.
        self._model_dir, self._done = model_dir, done
        worker.progressed.connect(self._progress)
        worker.succeeded.connect(self._succeeded)
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._finished)
        self.worker = worker
        self.busy.emit(True)
        worker.start()

    def _succeeded(self, result: Any) -> None:
        self._done(self._model_dir, result)

    def _failed(self, text: str) -> None:
        self.message.emit(text, "error")

    def _cancelled(self) -> None:
        self.message.emit("Cancelled: the model is unchanged", "info")

    def _progress(self, record: Progress) -> None:
        done = f" {record.step}/{record.total}" if record.total else ""
        self.progressed.emit(f"{record.stage}{done} {record.message}".strip())
        self.stepped.emit(record.step, record.total)

    def _teach_done(self, model_dir: Path, result: Any) -> None:
        frames = "; ".join(frame.describe() for frame in result.frames)
        if result.refused:
            self.message.emit(result.refusal, "error")
        elif result.version is not None:
            self.message.emit(f"Version {result.version} of {model_dir.name} is live: {frames}. "
                              f"{result.check.summary()}", "info")
            self.model_changed.emit(model_dir)
        else:
            self.message.emit(f"Kept {len(result.kept)} frame(s) for a fine-tune of {model_dir.name} (this method "
                              f"learns by training: python -m core teach --model {model_dir} --fine-tune)", "info")
        self.taught.emit(result)

    def _rollback_done(self, model_dir: Path, entry: Any) -> None:
        self.message.emit(f"Version {entry.number} of {model_dir.name} is live: {entry.reason}", "info")
        self.model_changed.emit(model_dir)

    def _finished(self) -> None:
        self.sender().deleteLater()
        self.worker = None
        self.busy.emit(False)

    def shutdown(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(10_000)
