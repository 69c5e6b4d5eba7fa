"""Run an engine job generator in a child process and turn its progress into Qt signals.

Training must not stall the window, and some engine steps hold Python's GIL for hundreds of milliseconds in C code
(the ONNX export at save time does), which a worker thread cannot prevent. A child process has its own GIL: the
UI thread keeps its timers within a few milliseconds whatever the job does. Progress records and the result come
back through a queue; cancelling sets an event that the child turns into its job's `CancelToken`, and a child that
has not stopped half a second later is terminated, so Cancel always takes effect within a second (model
directories are written atomically: the previous one stays, whatever moment the job is stopped at).

Example:
    >>> worker = QtProcessJobWorker(training_job, (config, roots, out_dir, "imagenet"))
    >>> worker.progressed.connect(show); worker.succeeded.connect(use_model); worker.start()
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QThread, Signal

from core.errors import Cancelled, InputError
from core.jobs import CancelToken, Progress

ProcessJob = Callable[..., Generator[Any, None, Any]]  # called as job(*args, cancel=token)
PRELOAD = ["app.engine_jobs"]  # imported once by the fork server (torch, timm...), not by every job
_POLL_SECONDS = 0.05
_EXIT_GRACE_SECONDS = 0.5
_CANCEL_GRACE_SECONDS = 0.5  # a job that has not reached a cancel check by then is terminated


def job_context() -> Any:
    """Where POSIX allows it, a fork server that has imported the engine once: each job then starts in a fraction
    of a second instead of importing torch again. Elsewhere, plain spawn. (Plain fork would copy Qt's and torch's
    threads in a broken state.)"""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def start_job_server() -> None:
    """Start the fork server now (the window calls this at start-up, so the first training starts quickly)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        job_context()
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _portable(item: Any) -> Any:
    """Progress carries a read-only mapping that does not pickle; send a plain dict in its place."""
    if isinstance(item, Progress):
        return ("progress", (item.step, item.total, item.message, dict(item.metrics), item.stage))
    return ("item", item)


JOB_NICENESS = 5  # background work: the window's own thread must win the CPU whenever it wants it


def _child(job: ProcessJob, args: tuple, messages: Any, cancel_event: Any) -> None:  # in the child process
    if hasattr(os, "nice"):
        os.nice(JOB_NICENESS)
    token = CancelToken()
    threading.Thread(target=lambda: (cancel_event.wait(), token.cancel()), daemon=True).start()
    try:
        generator = job(*args, cancel=token)
        while True:
            try:
                item = next(generator)
            except StopIteration as stop:
                messages.put(("succeeded", stop.value))
                return
            messages.put(_portable(item))
    except Cancelled:
        messages.put(("cancelled", None))
    except InputError as error:
        messages.put(("failed", str(error)))
    except BaseException as error:  # noqa: BLE001 - everything must reach the window as a message
        messages.put(("failed", f"{type(error).__name__}: {error}", traceback.format_exc()))


class QtProcessJobWorker(QThread):
    """Same signals as `QtJobWorker` (progressed, succeeded, failed, cancelled, then finished), job in a process;
    connect them as its module says (bound methods of the owner, `sender()`), so that it can be deleted at once.

    `job` must be a module-level function (it is pickled by name) taking `cancel=` and returning a generator.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, job: ProcessJob, args: tuple, parent: Any = None) -> None:
        super().__init__(parent)
        context = job_context()
        self._messages = context.Queue()
        self._cancel_event = context.Event()
        self._process = context.Process(target=_child, args=(job, args, self._messages, self._cancel_event),
                                         name="inspection-station job", daemon=True)
        self.details = ""

    def cancel(self) -> None:
        self._cancel_event.set()

    def run(self) -> None:  # on the worker thread: only waits on the queue, so it barely needs the GIL
        try:
            self._process.start()
        except (OSError, RuntimeError) as error:
            self.failed.emit(f"could not start the job's process: {error}")
            return
        cancel_deadline = None
        try:
            while True:
                if self._cancel_event.is_set():
                    cancel_deadline = cancel_deadline or (time.monotonic() + _CANCEL_GRACE_SECONDS)
                    if time.monotonic() > cancel_deadline:
                        self._process.terminate()  # it did not reach a cancel check in time: stop it hard
                        self.cancelled.emit()
                        return
                try:
                    message = self._messages.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if not self._process.is_alive() and self._messages.empty():
                        self.failed.emit(f"the job's process ended unexpectedly (exit code {self._process.exitcode})")
                        return
                    continue
                if self._handle(message):
                    return
        finally:
            self._process.join(_EXIT_GRACE_SECONDS)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()

    def _handle(self, message: tuple) -> bool:
        """Emit the signal for one message; True when it was the last one."""
        kind, payload = message[0], message[1]
        if kind == "progress":
            step, total, text, metrics, stage = payload
            self.progressed.emit(Progress(step, total, text, metrics, stage))
            return False
        if kind == "item":
            self.progressed.emit(payload)
            return False
        if kind == "succeeded":
            if self._cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            self.details = message[2] if len(message) > 2 else ""
            self.failed.emit(payload)
        return True
