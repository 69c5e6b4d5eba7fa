"""Frames marked good for a method that learns by training: kept in the model directory until a fine-tune.

They live in `DIR/taught/good/<category>/` as the model saw them (model-sized PNG, lossless), so they travel with
the model and a fine-tune (`core.teaching.fine_tune`) trains on exactly those pixels. A frame of unknown category
goes to `unknown/`. Each file is written atomically; later versions carry the folder over.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from core.data.dataset import list_images
from core.files import write_file_atomically
from core.teaching.images import Frame

TAUGHT_GOOD = Path("taught") / "good"
UNKNOWN = "unknown"


def keep_taught_frames(model_dir: Path, frames: Sequence[Frame], pixels: np.ndarray) -> list[Path]:
    """Write each frame's model-sized `pixels` under the model directory; returns the files written."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    written = []
    for index, (frame, image) in enumerate(zip(frames, pixels)):
        folder = Path(model_dir) / TAUGHT_GOOD / (frame.category or UNKNOWN)
        folder.mkdir(parents=True, exist_ok=True)
        stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in Path(frame.name).stem)[:60]
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"{folder}: could not encode {frame.name} as PNG")
        written.append(write_file_atomically(folder / f"{stamp}_{index:03d}_{stem}.png", encoded.tobytes()))
    return written


def taught_frames(model_dir: Path) -> list[tuple[Path, str]]:
    """(image, category) of every kept frame; category "" for unknown."""
    root = Path(model_dir) / TAUGHT_GOOD
    if not root.is_dir():
        return []
    return [(path, "" if path.parent.name == UNKNOWN else path.parent.name) for path in list_images(root)]
