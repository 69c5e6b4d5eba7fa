"""Hand-made benchmark records in the format of OUT/results.json (see core/benchmark), for the figures, the Pareto
front and the Benchmark page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CPU = "x86 AVX2"


def make_record(method: str = "stfpm", backbone: str = "tf_efficientnet_lite0", layer_group: str = "equiv",
                setting: str = "unified", f1: float | None = 0.5, image_auroc: float | None = 0.9,
                memory_mb: float | None = 5.0, latency_fp32: float | None = 10.0,
                latency_int8: float | None = 6.0, macs: int | None = 300_000_000,
                training_macs: int | None = 900_000_000, parameters: int = 2_000_000,
                training_rss_mb: float = 400.0, status: str = "done", model_dir: str | None = None,
                category: str = "bottle") -> dict[str, Any]:
    """One cell; `status="failed"` gives a failed cell with no figures, as the runner records it."""
    name = f"{method}/{backbone}/{layer_group}/{setting}" + (f"/{category}" if setting == "per-category" else "")
    record: dict[str, Any] = {
        "name": name, "method": method, "backbone": backbone, "layer_group": layer_group, "setting": setting,
        "layers": [3, 9, 14], "image_size": 64, "data": [f"/data/{category}"], "status": status, "error": None,
        "attempts": 1, "model_dir": model_dir, "cpu": CPU,
    }
    if status == "failed":
        record.update(error="RuntimeError: out of memory", attempts=2, metrics=None, resources=None)
        return record
    mean = {"image_auroc": image_auroc, "pixel_auroc": 0.95, "pixel_f1_max": f1, "aupro": 0.8}
    record["metrics"] = {"categories": {category: dict(mean)}, "mean": mean}
    record["resources"] = {
        "parameters": parameters, "memory_mb": memory_mb, "inference_macs": macs,
        "training_macs_per_image": training_macs,
        "training_step_mb_per_image": None if training_macs is None else training_rss_mb / 10,
        "peak_training_rss_mb": training_rss_mb,
        "fit_rss_increase_mb": training_rss_mb / 4, "fit_seconds_per_image": 0.1, "onnx_mb": 9.0,
        "latency_ms": {"fp32": latency_fp32, "int8": latency_int8},
    }
    return record


def write_results(out: Path, records: list[dict[str, Any]]) -> Path:
    """OUT/results.json as the runner writes it."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"format": 1, "cells": records}, indent=2))
    return out
