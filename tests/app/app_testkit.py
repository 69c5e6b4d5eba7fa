"""Helpers for the window tests: tiny striped images, MVTec-layout categories and video files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.core.sources.sources_testkit import striped_image


# One striped-texture maker for all the live tests: the frame-source tests' own.
striped = striped_image


def make_category(root: Path, name: str, train: int = 10, seed: int = 0) -> Path:
    """A tiny MVTec AD layout category: striped textures; defects are red squares with exact masks."""
    rng = np.random.default_rng(seed)
    category = root / name
    for folder in ("train/good", "test/good", "test/spot", "ground_truth/spot"):
        (category / folder).mkdir(parents=True, exist_ok=True)
    for index in range(train):
        Image.fromarray(striped(rng)).save(category / "train/good" / f"{index:03d}.png")
    for index in range(3):
        Image.fromarray(striped(rng)).save(category / "test/good" / f"{index:03d}.png")
        Image.fromarray(striped(rng, spot=True)).save(category / "test/spot" / f"{index:03d}.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[20:36, 20:36] = 255
        Image.fromarray(mask).save(category / "ground_truth/spot" / f"{index:03d}_mask.png")
    return category


def write_video(path: Path, frames: int, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (96, 80))
    rng = np.random.default_rng(5)
    for index in range(frames):
        writer.write(cv2.resize(striped(rng, spot=index % 3 == 2), (96, 80)))
    writer.release()
    return path


def inspected(window) -> int:  # noqa: ANN001 (a MainWindow; importing it here would load Qt before the conftest)
    """The Inspect page's count of inspected frames, as the operator reads it."""
    return int(window.inspect_page.verdict.inspected.text())
