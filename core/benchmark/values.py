"""The numbers of one benchmark record (a cell of OUT/results.json) by flat name, so that the figures, the Pareto
front and the window's table read a record one way.

Accuracy names are the keys of `metrics.mean` (image_auroc, pixel_auroc, pixel_f1_max, aupro); cost names are those
of `resources`, with the two latencies flattened (latency_fp32, latency_int8). A value is None when the record lacks
it, holds null, or holds something that is not a finite number: missing values are skipped, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ACCURACY_NAMES = ("image_auroc", "pixel_auroc", "pixel_f1_max", "aupro")
COST_NAMES = ("latency_fp32", "latency_int8", "memory_mb", "parameters", "inference_macs", "training_macs_per_image",
              "training_step_mb_per_image", "peak_training_rss_mb", "fit_rss_increase_mb", "fit_seconds_per_image", "onnx_mb")
LABELS = {
    "image_auroc": "mean image AUROC", "pixel_auroc": "mean pixel AUROC", "pixel_f1_max": "mean pixel F1-max",
    "aupro": "mean AUPRO", "latency_fp32": "ONNX Runtime latency FP32 (ms)",
    "latency_int8": "ONNX Runtime latency INT8 (ms)", "memory_mb": "model memory (MB)", "parameters": "parameters",
    "inference_macs": "inference MACs", "training_macs_per_image": "training MACs per image",
    "training_step_mb_per_image": "training RAM per image (MB: autograd's saved activations + gradients)",
    "peak_training_rss_mb": "peak training process RSS (MB)", "fit_rss_increase_mb": "RAM added by fitting (MB)",
    "fit_seconds_per_image": "fit time per training image (s)", "onnx_mb": "ONNX size (MB)",
}


def value(record: Mapping[str, Any], name: str) -> float | None:
    """The number `name` of `record`, or None when it is missing or not a finite number.

    Example:
        >>> value({"resources": {"latency_ms": {"fp32": 4.2, "int8": None}}}, "latency_fp32")
        4.2
    """
    if name in ACCURACY_NAMES:
        raw = _dig(record, "metrics", "mean", name)
    elif name.startswith("latency_"):
        raw = _dig(record, "resources", "latency_ms", name.removeprefix("latency_"))
    elif name in COST_NAMES:
        raw = _dig(record, "resources", name)
    else:
        raise KeyError(f"unknown benchmark value '{name}' (choose from {', '.join(ACCURACY_NAMES + COST_NAMES)})")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return None
    return float(raw)


def is_done(record: Mapping[str, Any]) -> bool:
    """A cell that finished; failed ones carry an error instead of figures and are left out of every picture."""
    return record.get("status") == "done"


def _dig(record: Mapping[str, Any], *keys: str) -> Any:
    current: Any = record
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current
