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
# Beside each overlay, the frame as the model saw it (lossless, model-sized: 256 px is ~150 kB), so that a frame
# marked good can be taught and one confirmed NG re-scored by a changed model (`core.teaching`). The overlay alone
# cannot serve: its heat map is painted into the pixels.
FRAME_SUFFIX = ".frame.png"
DEFAULT_CAP_MB = 2048


class NgFrameFolder:
    """The folder of NG frames, and how many bytes it holds (counted once at opening, then kept up to date)."""

    def __init__(self, folder: Path, cap_bytes: int) -> None:
        self.folder = Path(folder)
        self.cap_bytes = cap_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files: deque[tuple[str, int]] = deque()
        for entry in sorted(os.scandir(self.folder), key=lambda item: item.name):
            if entry.is_file() and (entry.name.endswith(".jpg") or entry.name.endswith(FRAME_SUFFIX)):
                self._files.append((entry.name, entry.stat().st_size))
        self.total_bytes = sum(size for _, size in self._files)

    def write(self, image: np.ndarray, frame_index: int, model_input: np.ndarray | None = None) -> str:
        """Write RGB `image` as JPEG (atomically: never half a file under its name), and `model_input` (the frame
        the model saw) as PNG beside it; returns the JPEG's file name."""
        ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                   [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise OSError(f"{self.folder}: could not encode an NG frame as JPEG")
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
        name = f"{stamp}_p{os.getpid()}_{frame_index:07d}.jpg"
        self._keep(name, encoded.tobytes())
        if model_input is not None:
            ok, encoded = cv2.imencode(".png", cv2.cvtColor(model_input, cv2.COLOR_RGB2BGR))
            if ok:
                self._keep(name[: -len(".jpg")] + FRAME_SUFFIX, encoded.tobytes())
        return name

    def _keep(self, name: str, data: bytes) -> None:
        """Write one file atomically and count it under the cap."""
        write_file_atomically(self.folder / name, data)
        self._files.append((name, len(data)))
        self.total_bytes += len(data)

    def prune(self) -> list[str]:
        """Remove the oldest files until the folder is within its cap; returns the names removed."""
        removed = []
        while self.total_bytes > self.cap_bytes and self._files:
            name, size = self._files.popleft()
            (self.folder / name).unlink(missing_ok=True)
            self.total_bytes -= size
            removed.append(name)
        return removed



def raw_frame_path(db_path: Path, image_path: str | None) -> Path | None:
    """The model-sized frame kept beside a verdict's overlay (`Verdict.image_path`, relative to the database's
    folder), or None when the row keeps no overlay. The file may be gone (the disk cap, or recorded before frames
    were kept)."""
    if not image_path or not image_path.endswith(".jpg"):
        return None
    return Path(db_path).parent / (image_path[: -len(".jpg")] + FRAME_SUFFIX)
