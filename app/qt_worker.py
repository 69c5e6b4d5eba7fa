"""Run an engine job generator on a worker thread and turn what it yields into Qt signals (superqt's
`thread_worker` idea, in 80 lines): the generator never touches the UI, the UI is only touched in slots, which Qt
runs on the main thread because the signals cross threads as queued connections.

Connect the signals to bound methods of a QObject (the page that owns the worker), not to lambdas or partials that
capture it, and tell workers apart with `sender()`. PySide keeps a lambda alive, with everything it captures, for as
long as the *worker* lives; a bound method of a QObject becomes a slot of that object and holds no reference. With
a lambda holding the page, deleting a finished worker can drop the page's last reference: Shiboken then deletes the
page inside the worker's destructor, the page deletes its children, the half-destroyed worker among them, a second
time (a segmentation fault, or "pure virtual method called"). The job itself must not capture the page either (the
worker's Python side holds the job). So connected, a worker can be deleted (`deleteLater`) as soon as `finished`
arrives, and the page can go at any time.

Example:
    >>> worker = QtJobWorker(lambda token: train_job(config, roots, out, token), page)
    >>> worker.progressed.connect(page.on_progress); worker.succeeded.connect(page.on_model)
    >>> worker.finished.connect(page.on_finished)   # there: self.sender().deleteLater()
    >>> worker.start()
    >>> worker.cancel()     # the job raises Cancelled at its next check; `cancelled` is emitted
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QThread, Signal

from core.errors import Cancelled, InputError
from core.jobs import CancelToken

JobFactory = Callable[[CancelToken], Generator[Any, None, Any]]


class QtJobWorker(QThread):
    """Drives `make_job(token)` to its end on its own thread.

    Signals, in order: `progressed(item)` for each yielded item, then exactly one of `succeeded(return value)`,
    `failed(message)` (an `InputError` message as it is; anything else as its type and message, with the traceback
    kept in `details`) or `cancelled()`; then QThread's own `finished`.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, make_job: JobFactory, parent: Any = None) -> None:
        super().__init__(parent)
        self._make_job = make_job
        self.token = CancelToken()
        self.details = ""

    def cancel(self) -> None:
        """Ask the job to stop at its next check; returns at once."""
        self.token.cancel()

    def run(self) -> None:  # on the worker thread
        job = None
        try:
            job = self._make_job(self.token)
            while True:
                try:
                    item = next(job)
                except StopIteration as stop:
                    result = stop.value
                    break
                self.progressed.emit(item)
        except Cancelled:
            self.cancelled.emit()
            return
        except InputError as error:
            self.failed.emit(str(error))
            return
        except Exception as error:  # shown in the window: the operator must never have to read the console
            self.details = traceback.format_exc()
            self.failed.emit(f"{type(error).__name__}: {error}")
            return
        finally:
            if job is not None:
                job.close()
        if self.token.cancelled:
            self.cancelled.emit()
        else:
            self.succeeded.emit(result)


def call_job(function: Callable[[], Any]) -> JobFactory:
    """Wrap a plain blocking call (loading a model, scanning a folder) as a job without progress."""

    def job(token: CancelToken) -> Generator[Any, None, Any]:
        return function()
        yield  # makes this a generator

    return job
