"""A folder that receives images (from a line camera, a PLC, a colleague's script), watched with watchdog.

A file is inspected only once it is completely written: either its writer closed it (inotify's close-after-write,
where the platform reports it) or its size and modification time stopped changing for `settle_seconds`; in both
cases its structure must say it is whole (`core.sources.complete`: a PNG's IEND, a JPEG's end marker) and it must
decode. A file still unreadable after `give_up_seconds` of stability is skipped with a notice.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from core.data.dataset import list_images
from core.data.images import IMAGE_SUFFIXES, ImageReadError, read_image
from core.errors import InputError
from core.sources.base import NOTICE, RUNNING, Frame, FrameSource
from core.sources.complete import looks_complete

_POLL_SECONDS = 0.05


class _Pending:
    """What we know about a file that is (maybe) still being written."""

    def __init__(self, closed: bool) -> None:
        self.signature: tuple[int, int] | None = None
        self.stable_since = time.monotonic()
        self.closed = closed


class FolderSource(FrameSource):
    """New image files in `folder` (not its subfolders), in the order they appeared.

    `include_existing=True` first inspects the images already there (sorted by name), as jetson-utils does for
    `file://folder/`.

    Example:
        >>> source = FolderSource(Path("incoming"))     # doctest: +SKIP
    """

    live = False

    def __init__(self, folder: Path, include_existing: bool = False, settle_seconds: float = 0.3,
                 give_up_seconds: float = 5.0) -> None:
        super().__init__()
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"{self.folder}: folder does not exist" if not self.folder.exists()
                             else f"{self.folder}: is not a folder")
        self.settle_seconds = settle_seconds
        self.give_up_seconds = give_up_seconds
        self.description = f"folder {self.folder}"
        self._lock = threading.Lock()
        self._pending: OrderedDict[Path, _Pending] = OrderedDict()
        existing = list_images(self.folder, recursive=False) if include_existing else []
        # Files that are complete, with the image when it was already decoded to check that (no second decode).
        self._ready: list[tuple[Path, np.ndarray | None, float]] = [(path, None, 0.0) for path in existing]
        self._seen: set[Path] = set(existing)
        self._observer = Observer()
        self._observer.schedule(_Handler(self), str(self.folder), recursive=False)
        self._observer.daemon = True
        self._observer.start()
        self._announced = False

    def notice_file(self, path: Path, closed: bool) -> None:
        """Called by the watcher (its own thread) when a file appears, changes or is closed after writing."""
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.name.startswith(".") or path.parent != self.folder:
            return
        with self._lock:
            if path in self._seen:
                return
            pending = self._pending.setdefault(path, _Pending(closed))
            pending.closed = pending.closed or closed

    def read(self) -> Frame | None:
        if not self._announced:
            self._announced = True
            self.report(RUNNING, f"watching {self.folder} for new images")
        while not self.closed:
            ready = self._take_ready()
            if ready is None:
                self._closed.wait(_POLL_SECONDS)
                self._settle()
                continue
            path, image, decode_seconds = ready
            started = time.perf_counter() - decode_seconds
            if image is None:
                try:
                    image = read_image(path)
                except ImageReadError as error:
                    self.report(NOTICE, f"skipped {error.path}: {error.reason}")
                    continue
            return self._frame(image, path.name, path, started)
        return None

    def _take_ready(self) -> tuple[Path, np.ndarray | None, float] | None:
        with self._lock:
            return self._ready.pop(0) if self._ready else None

    def _settle(self) -> None:
        """Move pending files that are completely written to the ready list."""
        now = time.monotonic()
        with self._lock:
            candidates = list(self._pending.items())
        for path, pending in candidates:
            try:
                info = os.stat(path)
            except FileNotFoundError:  # written under a temporary name and renamed, or removed again
                self._forget(path, None)
                continue
            signature = (info.st_size, info.st_mtime_ns)
            if signature != pending.signature:
                pending.signature, pending.stable_since = signature, now
                if not pending.closed:
                    continue
            stable_for = now - pending.stable_since
            if info.st_size == 0 or not (pending.closed or stable_for >= self.settle_seconds):
                continue
            if not looks_complete(path) and stable_for < self.give_up_seconds:
                pending.closed = False  # cut short (no end marker yet): more is coming, whatever a decoder says
                continue
            decode_started = time.perf_counter()
            image = _decode(path)
            if image is not None:
                self._forget(path, (image, time.perf_counter() - decode_started))
            elif stable_for >= self.give_up_seconds:
                self._forget(path, None)
                self.report(NOTICE, f"skipped {path}: not a readable image after {self.give_up_seconds:g} s")
            else:
                pending.closed = False  # closed but not decodable: maybe written in several opens; wait for stability

    def _forget(self, path: Path, decoded: tuple[np.ndarray, float] | None) -> None:
        """Stop tracking `path`; with `decoded` (image, seconds it took) it is ready to be inspected."""
        with self._lock:
            self._pending.pop(path, None)
            if decoded is not None:
                self._seen.add(path)
                self._ready.append((path, *decoded))

    def release(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=2)


def _decode(path: Path) -> np.ndarray | None:
    try:
        return read_image(path)
    except ImageReadError:
        return None


class _Handler(FileSystemEventHandler):
    def __init__(self, source: FolderSource) -> None:
        self.source = source

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.notice_file(Path(os.fsdecode(event.src_path)), closed=False)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.notice_file(Path(os.fsdecode(event.src_path)), closed=False)

    def on_moved(self, event: FileSystemEvent) -> None:  # written as .tmp then renamed: the new name is complete
        if not event.is_directory:
            self.source.notice_file(Path(os.fsdecode(event.dest_path)), closed=True)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.source.notice_file(Path(os.fsdecode(event.src_path)), closed=True)
