"""NG frames with their overlay, as JPEG files in a folder beside the audit database, under a disk cap.

File names start with the UTC time (`20261201T215546123Z_p4711_0000123.jpg`), so sorting the names sorts the files
by age and the oldest go first when the folder would exceed its cap. Files a killed writer left without a row are
counted and pruned like the others.

Example:
    >>> frames = NgFrameFolder(Path("audit-frames"), cap_bytes=2 << 30)
    >>> name = frames.write(overlay_rgb, frame_index=123)   # the name the row keeps
    >>> pruned = frames.prune()                             # names removed to stay under the cap
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path

import cv2
import numpy as np

from core.files import write_file_atomically

JPEG_QUALITY = 90
DEFAULT_CAP_MB = 2048


class NgFrameFolder:
    """The folder of NG frames, and how many bytes it holds (counted once at opening, then kept up to date)."""

    def __init__(self, folder: Path, cap_bytes: int) -> None:
        self.folder = Path(folder)
        self.cap_bytes = cap_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: deque[tuple[str, int]] = deque()
        for entry in sorted(os.scandir(self.folder), key=lambda item: item.name):
            if entry.is_file() and entry.name.endswith(".jpg"):
                self._files.append((entry.name, entry.stat().st_size))
        self.total_bytes = sum(size for _, size in self._files)

    def write(self, image: np.ndarray, frame_index: int) -> str:
        """Write RGB `image` as JPEG (atomically: never half a file under its name); returns the file name."""
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"{self.folder}: could not encode an NG frame as JPEG")
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
        name = f"{stamp}_p{os.getpid()}_{frame_index:07d}.jpg"
        data = encoded.tobytes()
        write_file_atomically(self.folder / name, data)
        self._files.append((name, len(data)))
        self.total_bytes += len(data)
        return name

    def prune(self) -> list[str]:
        """Remove the oldest files until the folder is within its cap; returns the names removed."""
        removed = []
        while self.total_bytes > self.cap_bytes and self._files:
            name, size = self._files.popleft()
            (self.folder / name).unlink(missing_ok=True)
            self.total_bytes -= size
            removed.append(name)
        return removed

