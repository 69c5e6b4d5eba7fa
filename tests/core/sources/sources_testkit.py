"""Helpers for the frame-source tests: striped test images and real video files written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def striped_image(rng: np.random.Generator, size: int = 64, spot: bool = False) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size]
    base = 128 + 60 * np.sin(x / 3.0 + rng.uniform(0, 2 * np.pi)) + rng.normal(0, 6, (size, size))
    image = np.clip(np.stack([base, base * 0.9, base * 0.8], axis=-1), 0, 255).astype(np.uint8)
    if spot:
        image[20:36, 20:36] = (250, 20, 20)
    return image


def write_video(path: Path, frames: int, fps: float = 25.0, size: tuple[int, int] = (96, 72)) -> Path:
    """An MJPG AVI whose frame i is filled with grey level 5 * i (so frames can be told apart after decoding)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for index in range(frames):
        frame = np.full((size[1], size[0], 3), (5 * index) % 256, np.uint8)
        frame[:, :, 0] = 0  # blue channel off: after BGR -> RGB the red channel must be the grey one
        writer.write(frame)
    writer.release()
    return path
