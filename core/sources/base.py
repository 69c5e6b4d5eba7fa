"""What every frame source hands out (`Frame`), how it reports its state (`SourceStatus`), and the interface itself.

A source is read from one capture thread (`core.sources.reader`), so `read()` may block; `close()` is called from
another thread and must make a blocked `read()` return promptly.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OPENING = "opening"
RUNNING = "running"
RETRYING = "retrying"
ENDED = "ended"
FAILED = "failed"
NOTICE = "notice"  # something the operator should see that does not change the state (a skipped file)


@dataclass(frozen=True)
class Frame:
    """One captured image: H x W x 3 uint8 RGB, C-contiguous.

    `index` counts the frames this source delivered; `capture_seconds` is the time spent reading and decoding it
    (and resizing it, when the capture thread prepared `model_input`); `path` is the file it came from, when it came
    from a file (used to tell the category and to name saved frames). `model_input` is the image resized to the
    model's input size, when the capture thread made it (see `core.sources.reader.LatestFrameReader`).
    """

    image: np.ndarray
    index: int
    name: str
    path: Path | None = None
    capture_seconds: float = 0.0
    captured_at: float = 0.0
    model_input: np.ndarray | None = None


@dataclass(frozen=True)
class DeviceFrame(Frame):
    """A frame inspected elsewhere (a Jetson running live.py): `image` already carries the device's overlay and
    `device` is the device's status for it (verdict, score, threshold, latency split, memory, engine)."""

    device: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceStatus:
    """A change the operator should see: `state` is one of opening, running, retrying, ended, failed, notice.

    `retry_in` is the back-off delay in seconds when retrying, `attempt` the number of the attempt that follows it.
    """

    state: str
    message: str
    retry_in: float = 0.0
    attempt: int = 0


StatusListener = Callable[[SourceStatus], None]


class FrameSource(ABC):
    """A camera, a video file, a watched folder or a list of images.

    `live` sources produce frames in real time whatever the consumer does, so a slow consumer must drop frames
    (latest frame wins); the others wait for the consumer, because every file has to be inspected.

    Example:
        >>> source = open_source("file://line.mp4")          # doctest: +SKIP
        >>> frame = source.read()                             # None once the video has ended
        >>> source.close()
    """

    live: bool = False
    description: str = ""
    inspected_elsewhere: bool = False  # its frames are a device's verdicts (`DeviceFrame`), not images to score

    def __init__(self) -> None:
        self._closed = threading.Event()
        self._listener: StatusListener | None = None
        self._count = 0

    def set_listener(self, listener: StatusListener | None) -> None:
        """Receive status changes (called on the capture thread)."""
        self._listener = listener

    @abstractmethod
    def read(self) -> Frame | None:
        """The next frame, blocking until there is one; None when the source has ended or was closed.

        Raises `InputError` for a problem that retrying cannot fix (a file that is not a video, a missing folder).
        """

    def close(self) -> None:
        """Stop: a blocked `read()` returns None soon after. Safe to call from any thread, more than once."""
        self._closed.set()

    def release(self) -> None:
        """Free what the source holds (a decoder, a device, a watcher); called once no `read()` can be running."""

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def report(self, state: str, message: str, retry_in: float = 0.0, attempt: int = 0) -> None:
        if self._listener is not None:
            self._listener(SourceStatus(state, message, retry_in, attempt))

    def _frame(self, image: np.ndarray, name: str, path: Path | None, started: float) -> Frame:
        """Number and time-stamp a captured image (`started` is when reading it began, perf_counter)."""
        now = time.perf_counter()
        self._count += 1
        return Frame(np.ascontiguousarray(image), self._count, name, path, now - started, now)
