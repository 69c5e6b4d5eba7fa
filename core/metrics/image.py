"""Image-level metrics (AUROC, F1 at a threshold and at the best one, ROC points) and the choice of a threshold from normal images.

Labels are 1 (or True) for a defective image and 0 for a normal one; an image is predicted defective when its score
is >= the threshold. Undefined metrics are None, never NaN, so that callers can average and display them safely.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, precision_recall_curve, roc_auc_score, roc_curve


def check_image_inputs(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return labels as a bool vector and scores as a float vector; ValueError on a mismatch, NaN or a bad label."""
    labels = np.asarray(labels).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"{labels.size} labels but {scores.size} scores")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("labels must be 0 (normal) or 1 (defective)")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    return labels.astype(bool), scores


def image_auroc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the image-level ROC curve; None unless both normal and defective images are present."""
    labels, scores = check_image_inputs(labels, scores)
    if labels.all() or not labels.any():
        return None
    return float(roc_auc_score(labels, scores))


def image_f1(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float | None:
    """F1 of the defective class when images scoring >= `threshold` are called defective.

    None when there is no defective image: recall is then undefined and F1 would only reflect false alarms.
    """
    labels, scores = check_image_inputs(labels, scores)
    if not labels.any():
        return None
    # zero_division=0: nothing predicted defective means no defect was found, so F1 is 0, not undefined.
    return float(f1_score(labels, scores >= threshold, zero_division=0.0))


def image_f1_max(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """The best F1 of the defective class over every threshold: what a threshold chosen with the defects in hand
    would reach. Beside `image_f1` at the chosen threshold it shows what choosing from normal images alone costs.
    None when there is no defective image."""
    labels, scores = check_image_inputs(labels, scores)
    if not labels.any():
        return None
    precision, recall, _ = precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return float(f1.max())


def roc_points(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates of the image ROC curve, from (0, 0) to (1, 1), for plotting.

    Both arrays are empty when the curve is undefined (only one class present), so a plot simply shows nothing.
    """
    labels, scores = check_image_inputs(labels, scores)
    if labels.all() or not labels.any():
        return np.zeros(0), np.zeros(0)
    fpr, tpr, _ = roc_curve(labels, scores)
    return fpr, tpr


def threshold_from_normal_scores(
    scores: np.ndarray, false_alarm_rate: float = 0.01, *, margin: float = 0.1
) -> float:
    """Decision threshold chosen on held-out NORMAL images only, aiming at `false_alarm_rate` false alarms.

    Why only normal images: in production defects are rare and unknown in advance, so the threshold must not depend
    on any defect sample. The threshold is q + margin * spread, where

    * q is the (1 - false_alarm_rate) quantile of the scores with the 'higher' rule, so at most that fraction of the
      held-out normals lies above q; with fewer than about 1 / false_alarm_rate scores it is their maximum, since so
      few images cannot locate the tail;
    * spread is q - median(scores), the width of the normal distribution's upper half: new normal images score a
      little higher than a small held-out set, and the margin absorbs that; when the scores are all equal (e.g. a
      single score) spread falls back to 10 % of |q|, and the result is always strictly above q.

    Works for any number of scores from 1 on; ValueError for no scores, NaN, or a rate outside (0, 1).

    Example:
        >>> threshold_from_normal_scores(np.array([0.20, 0.22, 0.25]))  # 0.25 + 0.1 * (0.25 - 0.22)
        0.253
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size == 0:
        raise ValueError("no normal scores to choose a threshold from")
    if not np.isfinite(scores).all():
        raise ValueError("normal scores contain NaN or infinite values")
    if not 0.0 < false_alarm_rate < 1.0:
        raise ValueError(f"false_alarm_rate must be in (0, 1), got {false_alarm_rate}")
    if margin < 0.0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    quantile = float(np.quantile(scores, 1.0 - false_alarm_rate, method="higher"))
    spread = quantile - float(np.median(scores))
    if spread <= 0.0:
        spread = 0.1 * abs(quantile)
    threshold = quantile + margin * spread
    # Guarantee threshold > q even when the margin is zero or vanishes in rounding (q = 0, huge q).
    return float(max(threshold, np.nextafter(quantile, np.inf)))
