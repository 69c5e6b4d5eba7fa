"""Video files read with OpenCV, either as fast as they decode or paced at their own frame rate.

Paced playback behaves like a camera (frames come whether or not inspection keeps up, so it is `live` and frames are
dropped); unpaced playback inspects every frame, which is what a benchmark of sustained throughput needs.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from core.errors import InputError
from core.sources.base import ENDED, RUNNING, Frame, FrameSource

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".h264", ".h265"})
_FALLBACK_FPS = 30.0  # containers that do not say their rate (raw H.264) are played at a camera's usual rate


class VideoFileSource(FrameSource):
    """Frames of a video file, RGB. `pace=True` plays at the file's frame rate; `loop=True` starts over at the end.

    Example:
        >>> source = VideoFileSource(Path("line.mp4"), pace=False)   # doctest: +SKIP
    """

    def __init__(self, path: Path, pace: bool = True, loop: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: video file does not exist")
        self.pace = pace
        self.loop = loop
        self.live = pace
        self.description = f"video {self.path.name}"
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise InputError(f"{self.path}: OpenCV cannot open this file as a video (not a video, or a codec it lacks)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 1000.0 else _FALLBACK_FPS
        self.frame_count = int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self._next_due = 0.0
        self._started = False

    def read(self) -> Frame | None:
        if self.closed:
            return None
        started = time.perf_counter()
        ok, bgr = self._capture.read()
        if not ok and self.loop and self._count:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._capture.read()
        if not ok:
            if self._count == 0:
                raise InputError(f"{self.path}: no frame could be decoded from this video")
            self.report(ENDED, f"{self.path.name}: end of video after {self._count} frames")
            return None
        if not self._started:
            self._started = True
            self.report(RUNNING, f"playing {self.path.name} ({self.fps:.0f} fps{', paced' if self.pace else ''})")
        frame = self._frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), f"{self.path.name} #{self._count + 1}",
                            self.path, started)
        if self.pace:
            self._wait_until_due()
        return frame

    def _wait_until_due(self) -> None:
        now = time.perf_counter()
        if self._next_due == 0.0 or now - self._next_due > 1.0:  # first frame, or far behind: restart the clock
            self._next_due = now
        self._next_due += 1.0 / self.fps
        delay = self._next_due - time.perf_counter()
        if delay > 0:
            self._closed.wait(delay)

    def release(self) -> None:
        """Free the decoder; called by the reader once no `read()` can be running any more."""
        self._capture.release()
