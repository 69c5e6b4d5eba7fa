"""Read a source on its own capture thread and hand frames to the inspection loop through a one-frame slot.

For a live source (camera, paced video) the slot is overwritten when inspection is slower than capture: the latest
frame wins and the overwritten ones are counted as dropped, so latency never grows. For files the capture thread
waits until the slot is free instead, because every file must be inspected. Either way at most one frame is held.

A `prepare` function, when given, runs on the capture thread on each frame before it enters the slot (live inspection
resizes there): on a 2-core machine that overlaps with the previous frame's inference instead of adding to it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator

from core.errors import InputError
from core.sources.base import FAILED, Frame, FrameSource, SourceStatus

_JOIN_SECONDS = 2.0


class LatestFrameReader:
    """Runs `source.read()` on a daemon thread; `take(timeout)` returns the newest frame not yet taken.

    Example:
        >>> with LatestFrameReader(open_source("0")) as reader:     # doctest: +SKIP
        ...     frame = reader.take(timeout=0.1)
        ...     statuses = reader.pop_statuses()
    """

    def __init__(self, source: FrameSource, prepare: Callable[[Frame], Frame] | None = None) -> None:
        self.source = source
        self._prepare = prepare
        self.dropped = 0
        self._slot: Frame | None = None
        self._ended = False
        self._condition = threading.Condition()
        self._statuses: deque[SourceStatus] = deque(maxlen=100)
        source.set_listener(self._on_status)
        self._thread = threading.Thread(target=self._run, name=f"capture {source.description}", daemon=True)
        self._thread.start()

    def __enter__(self) -> "LatestFrameReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ended(self) -> bool:
        """True once the source has ended (or failed) and its last frame was taken."""
        with self._condition:
            return self._ended and self._slot is None

    def take(self, timeout: float) -> Frame | None:
        """The newest frame, waiting up to `timeout` seconds; None if there is none yet or the source ended."""
        with self._condition:
            self._condition.wait_for(lambda: self._slot is not None or self._ended, timeout)
            frame, self._slot = self._slot, None
            self._condition.notify_all()
            return frame

    def pop_statuses(self) -> list[SourceStatus]:
        """Status changes since the last call, oldest first."""
        with self._condition:
            statuses = list(self._statuses)
            self._statuses.clear()
            return statuses

    def close(self) -> None:
        """Stop the source and wait (briefly) for the capture thread, then free the source."""
        self.source.close()
        with self._condition:
            self._ended = True
            self._condition.notify_all()
        self._thread.join(_JOIN_SECONDS)
        if not self._thread.is_alive():
            self.source.release()  # never while a read() may still be using the decoder

    def _on_status(self, status: SourceStatus) -> None:
        with self._condition:
            self._statuses.append(status)

    def _run(self) -> None:
        try:
            for frame in self._frames():
                with self._condition:
                    if not self.source.live:
                        self._condition.wait_for(lambda: self._slot is None or self._ended)
                    if self._ended:
                        return
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = frame
                    self._condition.notify_all()
        except InputError as error:
            self._on_status(SourceStatus(FAILED, str(error)))
        except Exception as error:  # a decoder crash must reach the operator, not end the thread silently
            self._on_status(SourceStatus(FAILED, f"{self.source.description}: {type(error).__name__}: {error}"))
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    def _frames(self) -> Iterator[Frame]:
        while True:
            frame = self.source.read()
            if frame is None:
                return
            yield frame if self._prepare is None else self._prepare(frame)

