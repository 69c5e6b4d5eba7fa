"""Cameras through OpenCV: a device index, a V4L2 device, an RTSP/HTTP stream or a GStreamer pipeline.

A camera that stops delivering frames (unplugged, network drop, the encoder restarted) is reconnected with bounded
exponential back-off (0.5 s doubling to 5 s) for as long as the source is open, and every attempt is reported with
its number and delay, so the window can say "reconnecting to X (attempt 3)". Frame numbers carry on across
reconnects. A camera that has never delivered a frame is retried the same way, unless `open_timeout` is set (the command
line): then it fails with `InputError` once that many seconds have passed, instead of waiting for ever.
"""

from __future__ import annotations

import os
import time

import cv2

from core.errors import InputError
from core.sources.base import OPENING, RETRYING, RUNNING, Frame, FrameSource
from core.sources.open_failure import describe_open_failure

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 5.0)  # then stays at the last value
_ATTEMPT_TIMEOUT_MS = 5000  # network streams: give up one attempt after this, then back off and retry
_READ_TIMEOUT_MS = 5000  # a stream that stalls this long counts as dropped


def backoff_delay(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
    return BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1]


def quiet_video_library_logs() -> None:
    """Keep OpenCV's and FFmpeg's own warnings off the terminal: every failure is reported by the source, once,
    with its reason, and the native lines ("[tcp @ 0x55…] Connection refused") would only bury it."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when a capture opens
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class CameraSource(FrameSource):
    """Frames from a camera or stream; `target` is an int index, a device path, a URL or a GStreamer pipeline.

    `api` is an OpenCV backend constant (cv2.CAP_ANY, CAP_V4L2, CAP_FFMPEG, CAP_GSTREAMER). `open_timeout`: seconds
    after which a camera that never delivered a frame raises `InputError` (None: retry until closed, as the window does).

    Example:
        >>> source = CameraSource("rtsp://10.0.0.5:8554/line", cv2.CAP_FFMPEG, open_timeout=5)   # doctest: +SKIP
    """

    live = True

    def __init__(self, target: int | str, api: int = cv2.CAP_ANY, description: str = "",
                 open_timeout: float | None = None) -> None:
        super().__init__()
        self.target = target
        self.api = api
        self.description = description or f"camera {target}"
        self.open_timeout = open_timeout
        self._capture: cv2.VideoCapture | None = None
        self.failures = 0  # consecutive failed attempts; 0 while frames come
        self.reconnects = 0  # times the camera came back after failing
        self._delivered = False  # a frame came at least once: from then on, drops are reconnected for ever
        self._first_attempt = 0.0

    def read(self) -> Frame | None:
        while not self.closed:
            if self._capture is None and not self._open():
                continue
            started = time.perf_counter()
            assert self._capture is not None
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                if self.failures:
                    again = " again" if self._delivered else ""
                    self.report(RUNNING, f"{self.description}: receiving frames{again} (attempt {self._attempt()})")
                    self.reconnects += self._delivered
                    self.failures = 0
                self._delivered = True
                return self._frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{self.description} #{self._count + 1}",
                                   None, started)
            self._capture.release()
            self._capture = None
            if not self._delivered:
                self._give_up_if_overdue("it opened but delivered no frame")
            self._back_off("stopped delivering frames (disconnected?)" if self._delivered
                           else "opened but delivered no frame")
        return None

    def _open(self) -> bool:
        if not self._first_attempt:
            self._first_attempt = time.monotonic()
        verb = "reconnecting to" if self._delivered else "opening"
        message = f"{verb} {self.description}" + (f" (attempt {self._attempt()})…" if self.failures else "…")
        self.report(OPENING, message, attempt=self._attempt())
        parameters = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self._attempt_timeout_ms(),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, _READ_TIMEOUT_MS]
        try:
            capture = cv2.VideoCapture(self.target, self.api, parameters)
        except cv2.error as error:
            capture, reason = None, str(error).strip().splitlines()[-1]
        else:
            reason = ""
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            reason = reason or describe_open_failure(self.target)
            self._give_up_if_overdue(reason)
            self._back_off(f"cannot be opened ({reason})")
            return False
        self._capture = capture
        self.report(RUNNING, f"{self.description}: open")
        return True

    def _remaining(self) -> float | None:
        """Seconds left before a camera that never delivered a frame is given up; None when retried for ever."""
        if self.open_timeout is None or self._delivered:
            return None
        return self.open_timeout - (time.monotonic() - self._first_attempt)

    def _attempt_timeout_ms(self) -> int:
        remaining = self._remaining()
        if remaining is None:
            return _ATTEMPT_TIMEOUT_MS
        return int(min(_ATTEMPT_TIMEOUT_MS, max(remaining, 0.5) * 1000))

    def _give_up_if_overdue(self, reason: str) -> None:
        remaining = self._remaining()
        if remaining is not None and remaining < 0.05:  # the last attempt was made at the deadline
            elapsed = time.monotonic() - self._first_attempt
            raise InputError(f"{self.description}: cannot be opened ({reason}); gave up after "
                             f"{self._attempt()} attempt(s) in {elapsed:.1f} s")

    def _back_off(self, problem: str) -> None:
        self.failures += 1
        delay = backoff_delay(self.failures)
        remaining = self._remaining()
        if remaining is not None:
            delay = max(0.0, min(delay, remaining))  # one last attempt at the deadline, not after it
        self.report(RETRYING, f"{self.description}: {problem}; {self._action()} (attempt {self._attempt()}) "
                              f"in {delay:.2g} s", delay, self._attempt())
        self._closed.wait(delay)

    def _attempt(self) -> int:
        """The number of the current (or next) attempt to open: the first open is attempt 1, and so is the first
        try after a camera that was running dropped out (the drop itself counts as a failure, not an attempt)."""
        return self.failures if self._delivered else self.failures + 1

    def _action(self) -> str:
        return f"reconnecting to {self.description}" if self._delivered else "retrying"

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
