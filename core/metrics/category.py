"""All metrics of one category in one record, and their mean over categories."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.metrics.image import check_image_inputs, image_auroc, image_f1, image_f1_max
from core.metrics.pixel import PixelScores, aupro_from, pixel_auroc_from, pixel_f1_max_from

METRIC_NAMES = ("image_auroc", "pixel_auroc", "pixel_f1_max", "aupro", "image_f1", "image_f1_max")


@dataclass(frozen=True)
class CategoryMetrics:
    """The evaluation of one category (e.g. MVTec 'bottle'); a metric is None where it is undefined.

    Example:
        >>> result = evaluate_category(labels, scores, masks, maps, threshold=0.5)
        >>> result.as_dict()["aupro"]
    """

    image_auroc: float | None
    pixel_auroc: float | None
    pixel_f1_max: float | None
    aupro: float | None
    image_f1: float | None
    image_f1_max: float | None
    n_images: int
    n_defective: int

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict of every field, ready for JSON or a table."""
        return dataclasses.asdict(self)


def evaluate_category(
    labels: np.ndarray,
    scores: np.ndarray,
    masks: np.ndarray | None,
    maps: np.ndarray | None,
    threshold: float,
) -> CategoryMetrics:
    """Compute every metric of one category; the pixels are split and sorted once for the three pixel metrics.

    `labels` (N, 1 = defective) and `scores` (N) are per image; `masks` (N x H x W, non-zero = defect) and `maps`
    (N x H x W anomaly maps at the masks' resolution) are per pixel, or None when the category has no ground-truth
    masks, which leaves the pixel metrics None. Masks of defective images may be empty; a normal image with a
    non-empty mask is a contradiction and raises ValueError, as do mismatched shapes and NaN scores.
    """
    labels, scores = check_image_inputs(labels, scores)
    pixel_auroc = pixel_f1_max = aupro = None
    if masks is not None and maps is not None:
        masks = np.asarray(masks).astype(bool, copy=False)
        if masks.shape[:1] != labels.shape:
            raise ValueError(f"masks of shape {masks.shape} do not match {labels.size} labels")
        if masks[~labels].any():
            raise ValueError("an image labelled normal has defective pixels in its mask")
        pixels = PixelScores.from_arrays(masks, maps)
        pixel_auroc = pixel_auroc_from(pixels)
        pixel_f1_max = pixel_f1_max_from(pixels)
        aupro = aupro_from(pixels, 0.3)
    return CategoryMetrics(
        image_auroc=image_auroc(labels, scores),
        pixel_auroc=pixel_auroc,
        pixel_f1_max=pixel_f1_max,
        aupro=aupro,
        image_f1=image_f1(labels, scores, threshold),
        image_f1_max=image_f1_max(labels, scores),
        n_images=int(labels.size),
        n_defective=int(labels.sum()),
    )


def mean_metrics(per_category: Mapping[str, CategoryMetrics]) -> dict[str, float | None]:
    """Mean of each metric over the categories where it is defined (None where it is defined in none).

    The plain mean over categories, as papers report MVTec AD: every category counts once, whatever its size.
    """
    means: dict[str, float | None] = {}
    for name in METRIC_NAMES:
        values = [getattr(result, name) for result in per_category.values()]
        defined = [value for value in values if value is not None]
        means[name] = float(np.mean(defined)) if defined else None
    return means
