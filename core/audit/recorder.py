"""Record every live verdict without slowing the live loop: the frame thread only queues a small record; a writer
thread of its own renders NG overlays, writes their JPEGs and commits the rows in batches (one transaction per
`batch_rows` rows or per `batch_seconds`, whichever comes first), so no frame pays an fsync.

Problems (a full disk, a locked database) never stop the line: they are kept as one-line messages that the caller
shows (`take_errors`), and the rows of a batch that could not be written are counted in the message.

Example:
    >>> recorder = AuditRecorder(default_db_path())
    >>> context = VerdictContext("file://line.mp4", ModelIdentity.of(runtime.manifest, runtime.model_dir))
    >>> for event in inspect_stream(runtime, source, settings):
    ...     if isinstance(event, FrameResult):
    ...         recorder.record(event, context)
    >>> recorder.close()   # commits what is pending
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.audit.frames import DEFAULT_CAP_MB, NgFrameFolder
from core.audit.location import frames_folder
from core.audit.records import ModelIdentity, Verdict, utc_now
from core.audit.store import AuditStore
from core.errors import InputError
from core.overlay import render_overlay
from core.sources.base import DeviceFrame
from core.sources.live import FrameResult

BATCH_ROWS = 200
BATCH_SECONDS = 1.0
# NG frames whose JPEG is still to be written; beyond this (a flood of NG on a slow disk) rows are kept, images not.
MAX_PENDING_IMAGES = 64
WRITER_NICENESS = 19


@dataclass(frozen=True)
class VerdictContext:
    """What a live session says of all its verdicts: the source URI, the model, and the map's display low end."""

    source: str
    model: ModelIdentity
    map_low: float = 0.0


@dataclass(frozen=True)
class _Pending:
    result: FrameResult
    context: VerdictContext
    time: str
    keep_image: bool


class AuditRecorder:
    """Writes verdicts to the audit database at `db_path` from its own thread; NG frames go to the folder beside
    it, at most `frame_cap_mb` MB (oldest removed first, their rows keep no path). Opening checks the database on
    the calling thread, so a bad path is an `InputError` at once."""

    def __init__(self, db_path: Path, frame_cap_mb: float = DEFAULT_CAP_MB, batch_rows: int = BATCH_ROWS,
                 batch_seconds: float = BATCH_SECONDS) -> None:
        self.db_path = Path(db_path)
        AuditStore(self.db_path).close()  # a wrong path or a foreign file is refused here, with its name
        self.frames = NgFrameFolder(frames_folder(self.db_path), int(frame_cap_mb * 1024 * 1024))
        self.batch_rows, self.batch_seconds = batch_rows, batch_seconds
        self.recorded = 0  # rows committed so far
        self._queue: queue.SimpleQueue[_Pending | threading.Event | None] = queue.SimpleQueue()
        self._images_pending = 0
        self._lock = threading.Lock()
        self._errors: list[str] = []
        self._closed = False
        self._thread = threading.Thread(target=self._write_loop, name="audit-writer", daemon=True)
        self._thread.start()

    # -- the caller's side (the frame thread) ----------------------------------------------------------------------
    def record(self, result: FrameResult, context: VerdictContext) -> None:
        """Queue one verdict (a few microseconds: the writer thread does the rest)."""
        keep_image = result.is_ng
        if keep_image:
            with self._lock:
                keep_image = self._images_pending < MAX_PENDING_IMAGES
                self._images_pending += keep_image
        self._queue.put(_Pending(result, context, utc_now(), keep_image))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed; False if that took longer than `timeout`."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def take_errors(self) -> list[str]:
        with self._lock:
            errors, self._errors = self._errors, []
        return errors

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is pending and stop the writer thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)

    # -- the writer thread -----------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        _lower_this_threads_priority()
        try:
            store = AuditStore(self.db_path)
        except InputError as error:  # checked at opening; gone since (a removed folder): say so, keep draining
            self._error(str(error))
            self._drain()
            return
        pending: list[Verdict] = []
        deadline = 0.0
        try:
            while True:
                wait = None if not pending else max(0.0, deadline - time.monotonic())
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    item = False  # the batch's second is up
                if isinstance(item, _Pending):
                    if not pending:
                        deadline = time.monotonic() + self.batch_seconds
                    pending.append(self._verdict(item))
                    if len(pending) < self.batch_rows:
                        continue
                self._commit(store, pending)
                pending = []
                if isinstance(item, threading.Event):
                    item.set()
                elif item is None:
                    return
        finally:
            store.close()

    def _drain(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, threading.Event):
                item.set()

    def _verdict(self, item: _Pending) -> Verdict:
        result, context = item.result, item.context
        image_path = None
        if item.keep_image:
            try:
                image_path = self._write_image(result, context)
            except (OSError, InputError) as error:
                self._error(f"NG frame {result.frame.index} not kept in {self.frames.folder}: {error}")
            finally:
                with self._lock:
                    self._images_pending -= 1
        elif result.is_ng:
            self._error(f"NG frame {result.frame.index} not kept: the audit writer is behind")
        model = context.model
        if isinstance(result.frame, DeviceFrame):  # a device's verdict: the model is the bundle it runs
            model = ModelIdentity.of_device(result.frame.device)
        return Verdict(item.time, context.source, result.frame.index, result.frame.name, result.category,
                       result.score, result.threshold, result.verdict, model, image_path)

    def _write_image(self, result: FrameResult, context: VerdictContext) -> str:
        frame = result.frame
        if isinstance(frame, DeviceFrame):  # the device drew its overlay into the image already
            overlay = frame.image
        else:
            overlay = render_overlay(frame.image, result.anomaly_map, low=context.map_low,
                                     threshold=result.threshold, score=result.score, label=result.category)
        name = self.frames.write(overlay, frame.index, result.model_input)
        return f"{self.frames.folder.name}/{name}"

    def _commit(self, store: AuditStore, pending: list[Verdict]) -> None:
        if not pending:
            return
        try:
            store.add(pending)
            self.recorded += len(pending)
            pruned = self.frames.prune()
            if pruned:
                store.forget_images(f"{self.frames.folder.name}/{name}" for name in pruned)
        except (OSError, sqlite3.Error) as error:
            self._error(f"{self.db_path}: {len(pending)} verdicts not recorded ({error})")

    def _error(self, message: str) -> None:
        with self._lock:
            self._errors.append(message)
            del self._errors[:-100]


def _lower_this_threads_priority() -> None:
    """Nice the writer thread (Linux schedules threads one by one): on a 2-core bench PC the inference threads
    come first, and NG overlays and JPEGs are written in the time they leave. Elsewhere, or when not allowed, the
    thread keeps the process's priority."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICENESS)
    except (AttributeError, OSError):
        pass
