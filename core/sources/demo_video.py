"""A video of the demo data set's test images: what a camera would send, for bench-live and the window's soak run."""

from __future__ import annotations

from pathlib import Path

import cv2

from core.data.images import read_image, resize_image
from core.sources.uri import demo_image_paths


def write_demo_video(target: Path, size: int = 640, frames: int = 120, fps: float = 30.0) -> Path:
    """An MJPG video of the demo data set's test images at `size` x `size`, at `target`."""
    paths = demo_image_paths()
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    for index in range(frames):
        image = resize_image(read_image(paths[index % len(paths)]), size)
        writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    writer.release()
    return target
