"""Live results made directly (no model needed) for the audit tests, and a quick look into a database file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from core.audit.recorder import VerdictContext
from core.audit.records import ModelIdentity
from core.sources.base import Frame
from core.sources.live import FrameResult, Timings

MODEL = ModelIdentity(sha256="ab" * 32, precision="fp32", path="/models/line")
CONTEXT = VerdictContext("file://line.mp4", MODEL, map_low=0.1)


def result(index: int, score: float, threshold: float = 0.5, category: str = "stripes", size: int = 32) -> FrameResult:
    """A frame result as the live loop makes it: a textured frame, its map hot in one corner."""
    rng = np.random.default_rng(index)
    image = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    anomaly_map = np.zeros((16, 16), np.float32)
    anomaly_map[:4, :4] = score
    return FrameResult(index, Frame(image, index, f"frame {index}"), score, threshold,
                       np.zeros((16, 16), np.uint8), anomaly_map, category, Timings(1.0, 2.0, 0.1), 0)


def row_count(db: Path) -> int:
    """Rows committed so far, read as another process would (its own connection); 0 before the writer made the
    table (a child process may be creating the database right now)."""
    with sqlite3.connect(db) as connection:
        if connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'verdicts'").fetchone() is None:
            return 0
        return connection.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
