"""Evaluate a model on the labelled test images of each category: image and pixel metrics, per category and mean."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.data.dataset import discover_categories, iter_load_test_set
from core.inference import predict_arrays, predict_with
from core.jobs import CancelToken, Progress
from core.metrics import evaluate_category, mean_metrics
from core.model_store import LoadedModel
from core.runtime import ModelRuntime


def category_threshold(model: LoadedModel | ModelRuntime, category: str) -> float:
    """The category's own threshold (chosen out of fold or on held-out images) when it was trained on, else the
    model's overall one."""
    threshold = model.manifest.thresholds.for_category(category)
    return model.threshold if threshold is None else threshold


def evaluate_job(
    model: LoadedModel | ModelRuntime, data_roots: Sequence[Path], cancel: CancelToken | None = None
) -> Generator[Progress, None, dict[str, Any]]:
    """Returns {"categories": {name: metrics}, "mean": metrics, "skipped": {name: reason}}; a job generator.

    `model` is a loaded model directory (scored with PyTorch) or any runtime (an exported, quantized variant).
    A category folder without labelled test images (a plain folder of normal images) is skipped and said so.
    """
    cancel = cancel or CancelToken()
    per_category = {}
    seconds_per_image: dict[str, float] = {}
    skipped: dict[str, str] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for category in discover_categories([Path(root) for root in data_roots]):
        if not category.test:
            skipped[category.name] = "no labelled test images (not an MVTec AD layout)"
            continue
        test = yield from iter_load_test_set(category, model.image_size, cancel)
        started = time.perf_counter()
        if isinstance(model, LoadedModel):
            scores, maps = yield from predict_arrays(model.network, test.images, cancel=cancel)
        else:
            scores, maps = yield from predict_with(model.predict, test.images, cancel=cancel)
        seconds = time.perf_counter() - started
        yield Progress(0, 0, f"computing metrics for {category.name}", stage="metrics")
        threshold = category_threshold(model, category.name)
        per_category[category.name] = evaluate_category(test.labels, scores, test.masks, maps, threshold)
        seconds_per_image[category.name] = seconds / max(1, len(scores))
        # Kept so that the app can draw ROC curves, and `compare` list verdicts that change between precisions,
        # without scoring the images again.
        curves[category.name] = {"labels": test.labels.tolist(), "scores": np.asarray(scores).tolist(),
                                 "paths": [str(sample.path) for sample in category.test], "threshold": threshold}
    return {
        "categories": {
            name: {**metrics.as_dict(), "seconds_per_image": round(seconds_per_image[name], 4)}
            for name, metrics in per_category.items()
        },
        "mean": mean_metrics(per_category),
        "skipped": skipped,
        "scores": curves,
    }
