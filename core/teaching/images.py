"""The frames a teach or a check is about: an image (any size, RGB uint8), a name to show, and its category.

A frame's category is the one given, else the one its path names (`.../bottle/test/good/003.png`), else the
model's only one, else "" (not known: a method that keeps state per category picks as its graph does, and the
frame is judged by the model's overall threshold, as live frames of unknown category are).

Example:
    >>> frames = frames_from_paths([Path("false_alarms/")], categories=["bottle", "magnetic_tile"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audit.self_test import part_category
from core.data.dataset import expand_image_inputs
from core.data.images import read_image


@dataclass(frozen=True)
class Frame:
    name: str
    image: np.ndarray
    category: str = ""


def frame_category(path: Path | None, categories: Sequence[str], category: str = "") -> str:
    """`category` when given (refused unless the model has it), else the one `path` names, else the only one, else
    "" (the teach then takes the category the graph finds nearest)."""
    return part_category(path, categories, category, required=False)


def frames_from_paths(sources: Sequence[Path], categories: Sequence[str], category: str = "") -> list[Frame]:
    """The images of `sources` read as frames (InputError naming an unreadable one)."""
    return [Frame(str(path), read_image(path), frame_category(path, categories, category))
            for path in expand_image_inputs(sources)]
