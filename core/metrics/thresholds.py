"""The one place thresholds are chosen: from the scores and maps of NORMAL images the model was not fitted on, per
category and overall, aiming at a target false-reject rate, with a statement of how sure that is.

The scores are out of fold (every normal image, each scored by a model fitted without it: `core.methods.out_of_fold`)
or of a held-out share. Training calls it for the FP32 model and every exported variant calls it again for its own
graph's scores (quantization shifts them), so the two can never disagree on the rule. The image threshold of each
category, and of all of them together, is `threshold_from_normal_scores`; its confidence statement is
`frr_upper_bound` of the images at or above it.

Example:
    >>> chooser = ThresholdChooser(target_frr=0.01, source="out-of-fold", folds=10)
    >>> chooser.add("bottle", scores, maps)          # (N,) scores, N x H x W anomaly maps, of normal images
    >>> chooser.thresholds().basis["bottle"].statement()
    'chosen from 53 normal images (out of fold, 10 folds): the false-reject rate is below 4.2 % with 90 % confidence (target 1 %)'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.metrics.confidence import DEFAULT_CONFIDENCE, frr_upper_bound
from core.metrics.image import threshold_from_normal_scores
from core.model_manifest import ThresholdBasis, Thresholds

# A sample of map values is enough for the display range: every 8th pixel each way.
MAP_STRIDE = 8
DEFAULT_TARGET_FRR = 0.01
SOURCES = ("out-of-fold", "held-out")


class ThresholdChooser:
    """Collects normal scores by category, then `thresholds()` chooses them all at once. `source` and `folds` only
    describe where the scores came from, for the statement."""

    def __init__(self, target_frr: float = DEFAULT_TARGET_FRR, source: str = "held-out", folds: int = 0,
                 confidence: float = DEFAULT_CONFIDENCE) -> None:
        if not 0.0 < target_frr < 1.0:
            raise ValueError(f"target false-reject rate must be in (0, 1), got {target_frr}")
        if source not in SOURCES:
            raise ValueError(f"unknown score source '{source}' (one of {', '.join(SOURCES)})")
        self.target_frr, self.source, self.folds, self.confidence = target_frr, source, folds, confidence
        self._scores: dict[str, np.ndarray] = {}
        self._map_values: list[np.ndarray] = []

    def add(self, category: str, scores: np.ndarray, maps: np.ndarray) -> None:
        """The scores (N,) and anomaly maps (N x H x W) of one category's normal images."""
        self._scores[category] = np.asarray(scores, np.float64).ravel()
        self._map_values.append(np.asarray(maps)[:, ::MAP_STRIDE, ::MAP_STRIDE].ravel())

    @property
    def scores(self) -> np.ndarray:
        """Every score added so far, in the order added."""
        return np.concatenate(list(self._scores.values())) if self._scores else np.zeros(0)

    def thresholds(self) -> Thresholds:
        """Per-category and overall image thresholds, each category's basis and scores, the highest normal score,
        and the map's display low end.

        A unified model's categories can differ tenfold in normal scores: one shared threshold would miss the
        defects of the quieter ones, hence one per category. ValueError when nothing was added."""
        if not self._scores:
            raise ValueError("no normal images the model was not fitted on: cannot choose a threshold")
        scores = self.scores
        per_category = {name: threshold_from_normal_scores(values, self.target_frr)
                        for name, values in self._scores.items()}
        return Thresholds(
            image=threshold_from_normal_scores(scores, self.target_frr),
            per_category=per_category,
            heldout_score_max=float(scores.max()),
            # Overlays map [map_low, image threshold] to the colour scale: normal texture stays dark, defects glow.
            map_low=float(np.percentile(np.concatenate(self._map_values), 50)),
            basis={name: self._basis(values, per_category[name]) for name, values in self._scores.items()},
            normal_scores={name: tuple(values.tolist()) for name, values in self._scores.items()},
        )

    def _basis(self, scores: np.ndarray, threshold: float) -> ThresholdBasis:
        exceeding = int((scores >= threshold).sum())
        return ThresholdBasis(source=self.source, folds=self.folds, images=int(scores.size),
                              target_frr=self.target_frr, exceeding=exceeding, confidence=self.confidence,
                              frr_upper=round(frr_upper_bound(exceeding, int(scores.size), self.confidence), 4))


def carried_scores(normal_scores: Sequence[float], fp32_scores: np.ndarray, variant_scores: np.ndarray) -> np.ndarray:
    """`normal_scores` (FP32, out of fold) carried onto a variant's scale by the least-squares line from FP32's
    to the variant's scores of the same images: what the variant's out-of-fold scores would be, for it to choose
    from by the same rule. A line that is not increasing (too few or identical scores) falls back to the mean shift."""
    normal = np.asarray(normal_scores, np.float64)
    fp32, variant = np.asarray(fp32_scores, np.float64).ravel(), np.asarray(variant_scores, np.float64).ravel()
    if fp32.size >= 2 and np.ptp(fp32) > 1e-9 * max(1.0, float(np.abs(fp32).max())):
        slope, intercept = np.polyfit(fp32, variant, 1)
        if slope > 0:
            return slope * normal + intercept
    return normal + float(np.mean(variant - fp32))
