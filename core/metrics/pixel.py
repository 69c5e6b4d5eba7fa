"""Pixel-level metrics: pixel AUROC, pixel F1-max and AUPRO, all exact and fast on tens of millions of pixels.

Why not sklearn here: `roc_auc_score` takes about 27 s on 30M pixels on a 2-core machine (it argsorts every pixel
and builds the whole curve), and each metric would pay again. Instead the scores of the normal pixels are sorted once
with `np.sort` (about 6x faster than an argsort), only the usually few defective pixels are argsorted, and every curve
point is read off the two sorted arrays (`np.searchsorted`, or a linear merge for AUPRO). The results are the exact
curves with a vertex at every distinct score, no binning; the tests check them against sklearn and a slow reference.

A pixel is predicted defective when its score is >= the threshold, as in sklearn.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage

# 8-connectivity inside each image and none across images: the MVTec AD reference code labels regions with a 3x3
# block of ones, so two defect pixels touching at a corner are one region.
_REGION_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_REGION_STRUCTURE[1] = True


@dataclass(frozen=True)
class PixelScores:
    """The anomaly scores of a set of images split into normal and defective pixels, sorted once for every metric.

    Build it with `PixelScores.from_arrays(masks, maps)`; `evaluate_category` does so once and reuses it for the three
    pixel metrics. `defect_order` is the argsort of the defective pixels in `masks` C-order, so that per-pixel values
    computed in that order (region weights for AUPRO) can be aligned with `defect_sorted`.

    Example:
        >>> scores = PixelScores.from_arrays(masks, maps)
        >>> pixel_auroc_from(scores), aupro_from(scores, 0.3)
    """

    normal_sorted: np.ndarray
    defect_sorted: np.ndarray
    defect_order: np.ndarray
    masks: np.ndarray

    @classmethod
    def from_arrays(cls, masks: np.ndarray, maps: np.ndarray) -> PixelScores:
        """Validate `masks` (N x H x W, non-zero = defect) and `maps` (same shape, finite scores) and split them.

        Raises ValueError when the shapes differ or a score is NaN or infinite: that is a bug upstream (e.g. a model
        that overflowed), not an undefined metric, so it must not be reported as a number.
        """
        masks = np.asarray(masks).astype(bool, copy=False)
        maps = np.asarray(maps)
        if masks.shape != maps.shape or maps.ndim != 3:
            raise ValueError(f"masks {masks.shape} and maps {maps.shape} must both be N x H x W arrays of one shape")
        if maps.dtype == bool or not np.issubdtype(maps.dtype, np.number):
            raise ValueError(f"maps must hold numeric scores, not {maps.dtype}")
        if not np.isfinite(maps).all():
            raise ValueError("maps contain NaN or infinite scores")
        normal_sorted = maps[~masks]
        normal_sorted.sort()
        defect = maps[masks]
        # Not a stable sort (twice as slow): the order within ties never matters, only the sums over whole ties.
        defect_order = np.argsort(defect)
        return cls(normal_sorted, defect[defect_order], defect_order, masks)

    @property
    def n_normal(self) -> int:
        return int(self.normal_sorted.size)

    @property
    def n_defect(self) -> int:
        return int(self.defect_sorted.size)

    @cached_property
    def normal_below(self) -> np.ndarray:
        """For each sorted defect score, how many normal scores are strictly lower (shared by AUROC and F1-max)."""
        return np.searchsorted(self.normal_sorted, self.defect_sorted, side="left")


def pixel_auroc_from(scores: PixelScores) -> float | None:
    """Pixel AUROC as the Mann-Whitney statistic P(defect score > normal score) + P(tie) / 2; None with one class."""
    if scores.n_normal == 0 or scores.n_defect == 0:
        return None
    below = scores.normal_below
    # Ties are counted only where a defect score equals the next normal score: few with continuous scores.
    next_normal = scores.normal_sorted[np.minimum(below, scores.n_normal - 1)]
    tied = (below < scores.n_normal) & (next_normal == scores.defect_sorted)
    up_to = np.searchsorted(scores.normal_sorted, scores.defect_sorted[tied], side="right")
    # Integer sums stay exact; twice the statistic avoids halving each tie.
    twice_wins = 2 * int(below.sum(dtype=np.int64)) + int((up_to - below[tied]).sum(dtype=np.int64))
    return twice_wins / (2.0 * scores.n_normal * scores.n_defect)


def pixel_f1_max_from(scores: PixelScores) -> float | None:
    """Best pixel F1 over all thresholds; None without defective pixels.

    The best threshold is always one of the defect scores (raising it to the next defect score keeps every true
    positive and can only drop false positives), so those are the only candidates.
    """
    n_defect = scores.n_defect
    if n_defect == 0:
        return None
    ranked = scores.defect_sorted
    # The first of each run of equal defect scores: at that threshold the whole run and all above it are positive.
    firsts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    true_pos = n_defect - firsts
    false_pos = scores.n_normal - scores.normal_below[firsts]
    # F1 = 2 TP / (2 TP + FP + FN) with FN = n_defect - TP.
    f1 = 2.0 * true_pos / (true_pos + false_pos + n_defect)
    return float(f1.max())


def region_weights(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Weight of each defective pixel (masks C-order) so that summing them gives the mean per-region overlap.

    A pixel of region r weighs 1 / (n_regions * size_r); regions are 8-connected components of each image's mask.
    Returns the weights and the number of regions.
    """
    labels, n_regions = ndimage.label(masks, structure=_REGION_STRUCTURE)
    if n_regions == 0:
        return np.zeros(0), 0
    region_of_pixel = labels[masks]
    sizes = np.bincount(region_of_pixel, minlength=n_regions + 1)[1:]
    per_region = 1.0 / (n_regions * sizes.astype(np.float64))
    return per_region[region_of_pixel - 1], int(n_regions)


def aupro_from(scores: PixelScores, fpr_limit: float) -> float | None:
    """Area under the per-region-overlap curve up to `fpr_limit`, divided by `fpr_limit`; None if undefined.

    The curve has one vertex per distinct score (threshold), starts at (0, 0) above every score, is linear between
    vertices (trapezoids, as the MVTec AD reference code) and is cut at `fpr_limit` by linear interpolation.
    """
    if not 0.0 < fpr_limit <= 1.0:
        raise ValueError(f"fpr_limit must be in (0, 1], got {fpr_limit}")
    weights, n_regions = region_weights(scores.masks)
    if n_regions == 0 or scores.n_normal == 0:
        return None
    n_normal = scores.n_normal
    # Only thresholds down to the first vertex past the limit matter: the top floor(limit * n) + 1 normal scores
    # reach it (their lowest has more than limit * n normal scores at or above it). The normal scores tied with
    # that lowest one come too, or the false positives of the last vertex would be short.
    first = max(n_normal - int(np.floor(fpr_limit * n_normal)) - 1, 0)
    first = int(np.searchsorted(scores.normal_sorted, scores.normal_sorted[first], side="left"))
    top_normal = scores.normal_sorted[first:]
    start = int(np.searchsorted(scores.defect_sorted, top_normal[0], side="left"))
    top_defect = scores.defect_sorted[start:]
    top_weights = weights[scores.defect_order[start:]]

    # Merge the two sorted runs (a stable argsort of two sorted runs is a linear merge in timsort). Ascending, each
    # pixel then carries its share of false positives (normal) or of overlap (defect).
    merged = np.concatenate([top_normal, top_defect])
    order = np.argsort(merged, kind="stable")
    ranked = merged[order]
    is_normal = order < top_normal.size
    share = np.concatenate([np.zeros(top_normal.size), top_weights])[order]
    # One vertex per distinct score, at the first pixel of its run: a tie is one threshold (a diagonal segment).
    # At threshold t the predicted pixels are those >= t: the totals minus the shares strictly below t.
    firsts = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
    false_pos = top_normal.size - (np.cumsum(is_normal)[firsts] - is_normal[firsts])
    overlap = top_weights.sum() - (np.cumsum(share)[firsts] - share[firsts])
    # Reverse into ascending false positive rate and start at (0, 0), above every score.
    fpr = np.concatenate([[0.0], false_pos[::-1] / n_normal])
    pro = np.concatenate([[0.0], overlap[::-1]])
    return _area_up_to(fpr, pro, fpr_limit) / fpr_limit


def _area_up_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under the polyline (x, y), x non-decreasing from 0, from 0 to `limit` (interpolated there)."""
    inside = int(np.searchsorted(x, limit, side="right"))
    area = float(np.dot(np.diff(x[:inside]), y[: inside - 1] + y[1:inside])) / 2.0
    if inside < x.size:
        # x[inside] > limit >= x[inside - 1], so the denominator is positive.
        step = (limit - x[inside - 1]) / (x[inside] - x[inside - 1])
        y_limit = y[inside - 1] + step * (y[inside] - y[inside - 1])
        area += (limit - x[inside - 1]) * (y[inside - 1] + y_limit) / 2.0
    return area


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float | None:
    """Pixel AUROC over every pixel of every image; None when all pixels are normal or all are defective."""
    return pixel_auroc_from(PixelScores.from_arrays(masks, maps))


def pixel_f1_max(masks: np.ndarray, maps: np.ndarray) -> float | None:
    """Best pixel-level F1 over all thresholds (the 'F1-max' of anomaly detection papers); None without defects."""
    return pixel_f1_max_from(PixelScores.from_arrays(masks, maps))


def aupro(masks: np.ndarray, maps: np.ndarray, fpr_limit: float = 0.3) -> float | None:
    """Normalised area under the per-region-overlap (PRO) curve up to a false positive rate of `fpr_limit`.

    Regions are the 8-connected components of each image's mask; the overlap of a threshold is the mean over all
    regions of the fraction of the region at or above it, and the false positive rate is over the normal pixels of
    all images. AUPRO rewards finding small defects as much as large ones, which pixel AUROC does not. None when
    there is no region or no normal pixel; empty masks (of defective or normal images) add no region.
    """
    return aupro_from(PixelScores.from_arrays(masks, maps), fpr_limit)
