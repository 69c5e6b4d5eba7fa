"""The one place thresholds are chosen: from the scores and maps of held-out NORMAL images, per category and overall.

Training calls it for the FP32 model and every exported variant calls it again for its own graph (quantization
shifts scores), on the same held-out images (the split the manifest records), so the two can never disagree on the
rule. The image threshold of each category, and of all of them together, is `threshold_from_normal_scores`.

Example:
    >>> chooser = ThresholdChooser()
    >>> chooser.add("bottle", scores, maps)          # (N,) scores, N x H x W anomaly maps, of held-out normals
    >>> chooser.thresholds().image
    0.0421
"""

from __future__ import annotations

import numpy as np

from core.metrics.image import threshold_from_normal_scores
from core.model_manifest import Thresholds

# A sample of map values is enough for the display range: every 8th pixel each way.
MAP_STRIDE = 8


class ThresholdChooser:
    """Collects held-out normal scores by category, then `thresholds()` chooses them all at once."""

    def __init__(self) -> None:
        self._scores: dict[str, np.ndarray] = {}
        self._map_values: list[np.ndarray] = []

    def add(self, category: str, scores: np.ndarray, maps: np.ndarray) -> None:
        """The scores (N,) and anomaly maps (N x H x W) of one category's held-out normal images."""
        self._scores[category] = np.asarray(scores, np.float64).ravel()
        self._map_values.append(np.asarray(maps)[:, ::MAP_STRIDE, ::MAP_STRIDE].ravel())

    @property
    def scores(self) -> np.ndarray:
        """Every score added so far, in the order added."""
        return np.concatenate(list(self._scores.values())) if self._scores else np.zeros(0)

    def thresholds(self) -> Thresholds:
        """Per-category and overall image thresholds, the highest held-out score, and the map's display low end.

        A unified model's categories can differ tenfold in normal scores: one shared threshold would miss the
        defects of the quieter ones, hence one per category. ValueError when nothing was added."""
        if not self._scores:
            raise ValueError("no held-out normal images: cannot choose a threshold")
        scores = self.scores
        return Thresholds(
            image=threshold_from_normal_scores(scores),
            per_category={name: threshold_from_normal_scores(values) for name, values in self._scores.items()},
            heldout_score_max=float(scores.max()),
            # Overlays map [map_low, image threshold] to the colour scale: normal texture stays dark, defects glow.
            map_low=float(np.percentile(np.concatenate(self._map_values), 50)),
        )
