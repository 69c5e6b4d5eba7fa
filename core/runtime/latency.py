"""Median inference latency of a model directory or bundle on this machine: what `python -m core latency` prints,
and what the variant comparison and the benchmark record beside their accuracy figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.profiling import median_latency_ms
from core.runtime import open_runtime


def measure(model_dir: Path, runtime_name: str = "auto", runs: int = 50, repeats: int = 3) -> dict[str, float | str]:
    """Median latency of predict() on one image (content does not change the cost), median over `repeats` series."""
    runtime = open_runtime(model_dir, runtime_name)
    image = np.random.default_rng(0).integers(0, 256, (1, runtime.image_size, runtime.image_size, 3), dtype=np.uint8)
    series = [median_latency_ms(lambda: runtime.predict(image), runs=runs) for _ in range(repeats)]
    return {"runtime": runtime.name, "median_ms": float(np.median([s["median_ms"] for s in series])),
            "series_medians_ms": [round(s["median_ms"], 2) for s in series], "model_bytes": runtime.model_bytes,
            "precision": runtime.precision, "int8_path": runtime.integer_path.name,
            "int8_warning": runtime.int8_warning}
