"""Fixtures shared across the suite: small real image data made on the fly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random texture with a stripe pattern: normal parts look alike but are not identical."""
    y, x = np.mgrid[0:size, 0:size]
    phase = rng.uniform(0, 2 * np.pi)
    base = 128 + 60 * np.sin(x / 3.0 + phase) + rng.normal(0, 6, (size, size))
    return np.clip(np.stack([base, base * 0.9, base * 0.8], axis=-1), 0, 255).astype(np.uint8)


def make_mvtec_category(root: Path, name: str, size: int = 64, train: int = 12, good: int = 3, bad: int = 3,
                        seed: int = 0) -> Path:
    """Write a tiny MVTec AD layout category: striped textures, defects are bright squares with exact masks."""
    rng = np.random.default_rng(seed)
    category = root / name
    for folder in ("train/good", "test/good", "test/spot", "ground_truth/spot"):
        (category / folder).mkdir(parents=True, exist_ok=True)
    for index in range(train):
        Image.fromarray(_texture(rng, size)).save(category / "train/good" / f"{index:03d}.png")
    for index in range(good):
        Image.fromarray(_texture(rng, size)).save(category / "test/good" / f"{index:03d}.png")
    for index in range(bad):
        image = _texture(rng, size)
        mask = np.zeros((size, size), np.uint8)
        top, left = rng.integers(4, size - size // 4 - 4, 2)
        image[top : top + size // 4, left : left + size // 4] = (250, 20, 20)
        mask[top : top + size // 4, left : left + size // 4] = 255
        Image.fromarray(image).save(category / "test/spot" / f"{index:03d}.png")
        Image.fromarray(mask).save(category / "ground_truth/spot" / f"{index:03d}_mask.png")
    return category


@pytest.fixture(autouse=True)
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test records its verdicts in its own audit database, never in the user's (`core.audit.location`)."""
    path = tmp_path / "station" / "audit.sqlite"
    monkeypatch.setenv("INSPECTION_STATION_AUDIT", str(path))
    return path


@pytest.fixture
def tiny_categories(tmp_path: Path) -> list[Path]:
    """Two small MVTec-layout categories, for unified training in tests."""
    return [make_mvtec_category(tmp_path / "data", "stripes", seed=1),
            make_mvtec_category(tmp_path / "data", "waves", seed=2)]
