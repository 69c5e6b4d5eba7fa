"""Live inspection on a worker thread, with a mailbox so the UI draws only the newest frame.

`core.sources.inspect_stream` already drops camera frames when inference is slower than capture. This worker adds
the same rule one step later: when the UI is slower than inference, results pile up in no queue; the worker keeps
the newest result, every status change, the NG thumbnails and the timings (small) and emits `ready` once until
the UI has taken them. Counters are kept here, so they count every inspected frame, drawn or not.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QThread, Signal

from core.audit.recorder import AuditRecorder, VerdictContext
from core.drift.monitor import DriftMonitor, DriftState
from core.errors import InputError
from core.jobs import CancelToken
from core.sources import FrameResult, FrameSource, LiveSettings, SourceStatus, inspect_stream
from core.sources.base import FAILED
from core.sources.live import Timings

_MAX_KEPT = 500  # timings and statuses kept between two takes (the UI takes them ~60 times a second)
_FPS_WINDOW_SECONDS = 2.0


@dataclass
class LiveBatch:
    """What happened since the UI last looked: the newest result, and everything small in order."""

    latest: FrameResult | None
    statuses: list[SourceStatus]
    ng_results: list[FrameResult]
    timings: list[Timings]
    inspected: int
    ng: int
    fps: float
    display_dropped: int
    source_dropped: int
    saved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    scored: list[tuple[float, str]] = field(default_factory=list)  # every frame's (score, category), in order
    drift: DriftState | None = None


class QtLiveWorker(QThread):
    """Runs `inspect_stream(runtime, source, settings)` until stopped or the source ends.

    Example:
        >>> worker = QtLiveWorker(runtime, source, settings)
        >>> worker.ready.connect(lambda: draw(worker.take()))
        >>> worker.start(); ...; worker.stop()
    """

    ready = Signal()

    def __init__(self, runtime: Any, source: FrameSource, settings: LiveSettings, parent: Any = None,
                 recorder: AuditRecorder | None = None, context: VerdictContext | None = None,
                 drift: DriftMonitor | None = None) -> None:
        super().__init__(parent)
        self.runtime, self.source, self.settings = runtime, source, settings
        # Every verdict goes to the audit trail; `record` only queues it (the recorder's thread writes).
        self.recorder = recorder if context is not None else None
        self.context = context
        self.drift = drift  # fed here, on the frame thread: its statistics cost 0.1-0.2 ms a frame at 256 px
        self.token = CancelToken()
        self._lock = threading.Lock()
        self._notified = False
        self._latest: FrameResult | None = None
        self._statuses: list[SourceStatus] = []
        self._ng: deque[FrameResult] = deque(maxlen=20)
        self._timings: deque[Timings] = deque(maxlen=_MAX_KEPT)
        self._saved: list[str] = []
        self._errors: list[str] = []
        self._scored: deque[tuple[float, str]] = deque(maxlen=_MAX_KEPT)
        self._finish_times: deque[float] = deque()
        self.inspected = 0
        self.ng = 0
        self._display_dropped = 0
        self._source_dropped = 0

    def stop(self) -> None:
        """Ask the loop to end; it does within about 0.1 s (the stream's idle tick)."""
        self.token.cancel()
        self.source.close()

    def reset_counters(self) -> None:
        with self._lock:
            self.inspected = self.ng = self._display_dropped = 0

    def take(self) -> LiveBatch:
        """Everything since the last take; called on the UI thread when `ready` fires."""
        with self._lock:
            self._prune(time.perf_counter())
            times = self._finish_times
            span = times[-1] - times[0] if len(times) >= 2 else 0.0
            fps = (len(times) - 1) / span if span > 0 else 0.0
            batch = LiveBatch(self._latest, self._statuses, list(self._ng), list(self._timings), self.inspected,
                              self.ng, fps, self._display_dropped, self._source_dropped, self._saved, self._errors,
                              list(self._scored), self.drift.state if self.drift is not None else None)
            self._latest, self._statuses, self._saved, self._errors = None, [], [], []
            self._ng.clear()
            self._scored.clear()
            self._timings.clear()
            self._notified = False
            return batch

    def _prune(self, now: float) -> None:
        while self._finish_times and now - self._finish_times[0] > _FPS_WINDOW_SECONDS:
            self._finish_times.popleft()

    def run(self) -> None:  # on the worker thread
        stream = inspect_stream(self.runtime, self.source, self.settings, self.token)
        try:
            for event in stream:
                if event is not None:
                    self._post(event)
        except InputError as error:
            self._post(SourceStatus(FAILED, str(error)))
        except Exception as error:  # e.g. a runtime that rejects the frame: shown, never only on the console
            self._post(SourceStatus(FAILED, f"inspection stopped: {type(error).__name__}: {error}"))
        finally:
            stream.close()

    def _post(self, event: FrameResult | SourceStatus) -> None:
        audit_errors: list[str] = []
        if self.recorder is not None and isinstance(event, FrameResult):
            self.recorder.record(event, self.context)  # type: ignore[arg-type]
            audit_errors = self.recorder.take_errors()
        if self.drift is not None and isinstance(event, FrameResult):
            self.drift.add_result(event)
        with self._lock:
            self._errors += audit_errors
            if isinstance(event, SourceStatus):
                self._statuses.append(event)
                del self._statuses[:-_MAX_KEPT]
            else:
                if self._latest is not None:
                    self._display_dropped += 1
                self._latest = event
                self.inspected += 1
                self._timings.append(event.timings)
                self._scored.append((event.score, event.category))
                self._source_dropped = event.dropped
                now = time.perf_counter()
                self._finish_times.append(now)
                self._prune(now)
                if event.is_ng:
                    self.ng += 1
                    self._ng.append(event)
                if event.saved_to is not None:
                    self._saved.append(str(event.saved_to))
                if event.save_error:
                    self._errors.append(event.save_error)
            if self._notified:
                return
            self._notified = True
        self.ready.emit()
