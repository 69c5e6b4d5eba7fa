"""Cameras through OpenCV: a device index, a V4L2 device, an RTSP/HTTP stream or a GStreamer pipeline.

A camera that cannot be opened, or that stops delivering frames, is retried with exponential back-off for as long
as the source is open; every failure and retry is reported (with the delay) so the window can show the state.
"""

from __future__ import annotations

import time

import cv2

from core.sources.base import OPENING, RETRYING, RUNNING, Frame, FrameSource

BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)  # then stays at the last value
_OPEN_TIMEOUT_MS = 5000  # network streams: give up an attempt after this, then back off and retry
_READ_TIMEOUT_MS = 5000


def backoff_delay(attempt: int) -> float:
    """Seconds to wait after the `attempt`-th consecutive failure (1-based)."""
    return BACKOFF_SECONDS[min(max(attempt, 1), len(BACKOFF_SECONDS)) - 1]


class CameraSource(FrameSource):
    """Frames from a camera or stream; `target` is an int index, a device path, a URL or a GStreamer pipeline.

    `api` is an OpenCV backend constant (cv2.CAP_ANY, CAP_V4L2, CAP_FFMPEG, CAP_GSTREAMER).

    Example:
        >>> source = CameraSource(0, description="camera 0")     # doctest: +SKIP
    """

    live = True

    def __init__(self, target: int | str, api: int = cv2.CAP_ANY, description: str = "") -> None:
        super().__init__()
        self.target = target
        self.api = api
        self.description = description or f"camera {target}"
        self._capture: cv2.VideoCapture | None = None
        self.failures = 0

    def read(self) -> Frame | None:
        while not self.closed:
            if self._capture is None and not self._open():
                continue
            started = time.perf_counter()
            assert self._capture is not None
            ok, bgr = self._capture.read()
            if ok and bgr is not None:
                if self.failures:
                    self.failures = 0
                    self.report(RUNNING, f"{self.description}: receiving frames again")
                return self._frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{self.description} #{self._count + 1}",
                                   None, started)
            self._capture.release()
            self._capture = None
            self._back_off(f"{self.description}: stopped delivering frames (disconnected?)")
        return None

    def _open(self) -> bool:
        self.report(OPENING, f"opening {self.description}...")
        parameters = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, _OPEN_TIMEOUT_MS,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, _READ_TIMEOUT_MS]
        try:
            capture = cv2.VideoCapture(self.target, self.api, parameters)
        except cv2.error as error:
            capture = None
            reason = str(error).strip().splitlines()[-1]
        else:
            reason = "OpenCV could not open it"
        if capture is None or not capture.isOpened():
            if capture is not None:
                capture.release()
            self._back_off(f"{self.description}: cannot be opened ({reason})")
            return False
        self._capture = capture
        self.report(RUNNING, f"{self.description}: open")
        return True

    def _back_off(self, problem: str) -> None:
        self.failures += 1
        delay = backoff_delay(self.failures)
        self.report(RETRYING, f"{problem}; retrying in {delay:g} s (attempt {self.failures})", delay, self.failures)
        self._closed.wait(delay)

    def release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
