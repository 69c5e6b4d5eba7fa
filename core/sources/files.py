"""Image files given by name (opened or dropped), read in order, optionally looping, paced or one step at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.data.images import ImageReadError, read_image
from core.sources.base import ENDED, NOTICE, OPENING, RUNNING, Frame, FrameSource


class ImageFilesSource(FrameSource):
    """Frames from a list of image files. More can be added while it runs (`add`, e.g. images dropped on the window).

    - `step=True`: after each image, wait for `advance()` (the operator's "next image").
    - `loop=True`: start again at the first image after the last (the demo runs like this).
    - `interval`: at least this many seconds between images (0: as fast as they are inspected).
    - `keep_open=True`: when the list is used up, wait for more images instead of ending.
    - `find_paths`: called once on the capture thread before the first image, for lists that take time to make
      (the demo data set is generated on first use), so that opening the source never blocks the caller.
    An unreadable file is skipped with a notice naming it.

    Example:
        >>> source = ImageFilesSource([Path("a.png"), Path("b.png")], step=True)   # doctest: +SKIP
    """

    live = False

    def __init__(self, paths: Sequence[Path], step: bool = False, loop: bool = False, interval: float = 0.0,
                 keep_open: bool = False, description: str = "",
                 find_paths: Callable[[], Sequence[Path]] | None = None) -> None:
        super().__init__()
        self._paths: list[Path] = [Path(path) for path in paths]
        self._position = 0
        self._changed = threading.Condition()
        self._advances = 0
        self.step = step
        self.loop = loop
        self.interval = interval
        self.keep_open = keep_open
        self.description = description or f"{len(self._paths)} image file(s)"
        self._last_read = 0.0
        self._announced = False
        self._find_paths = find_paths
        self._awaiting_advance = False

    def add(self, paths: Sequence[Path], jump: bool = True) -> None:
        """Append images; with `jump` the next frame is the first of them (the operator wants to see what they
        dropped)."""
        with self._changed:
            first_new = len(self._paths)
            self._paths.extend(Path(path) for path in paths)
            if jump:
                self._position = first_new
                self._advances += 1
            self._changed.notify_all()

    def advance(self) -> None:
        """Let a `step` source deliver its next image."""
        with self._changed:
            self._advances += 1
            self._changed.notify_all()

    def close(self) -> None:
        super().close()
        with self._changed:
            self._changed.notify_all()

    @property
    def paths(self) -> list[Path]:
        with self._changed:
            return list(self._paths)

    def read(self) -> Frame | None:
        if self._find_paths is not None:
            find_paths, self._find_paths = self._find_paths, None
            self.report(OPENING, f"preparing {self.description}…")
            self.add(find_paths(), jump=False)
        while True:
            path = self._next_path()
            if path is None:
                return None
            if not self._announced:
                self._announced = True
                self.report(RUNNING, f"reading {self.description}")
            started = time.perf_counter()
            try:
                image = read_image(path)
            except ImageReadError as error:
                self.report(NOTICE, f"skipped {error.path}: {error.reason}")
                continue
            self._last_read = time.perf_counter()
            self._awaiting_advance = True  # a skipped file does not count as a step
            return self._frame(image, path.name, path, started)

    def _next_path(self) -> Path | None:
        with self._changed:
            if self.step and self._awaiting_advance:
                self._changed.wait_for(lambda: self._advances > 0 or self.closed)
                self._advances = max(0, self._advances - 1)
                self._awaiting_advance = False
            while not self.closed:
                if self._position >= len(self._paths) and self.loop and self._paths:
                    self._position = 0
                if self._position < len(self._paths):
                    break
                if not self.keep_open:
                    self.report(ENDED, f"{self.description}: all {len(self._paths)} images inspected")
                    return None
                self._changed.wait(0.5)
            if self.closed:
                return None
            path = self._paths[self._position]
            self._position += 1
        if self.interval > 0:
            delay = self._last_read + self.interval - time.perf_counter()
            if delay > 0:
                self._closed.wait(delay)
        return None if self.closed else path
