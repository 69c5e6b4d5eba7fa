"""Evaluation metrics of anomaly detection, as in the papers and anomalib, with None where a metric is undefined.

Image level: AUROC, F1 at a threshold, ROC points for plots, and the thresholds chosen on normal images only
(`ThresholdChooser`, the one rule training and every exported variant use).
Pixel level: AUROC, F1-max and AUPRO (per-region overlap up to a false positive rate of 0.3), exact and fast enough
for 500 images of 256 x 256. `evaluate_category` computes them all for one category, `mean_metrics` averages
categories.
"""

from core.metrics.category import CategoryMetrics, evaluate_category, mean_metrics
from core.metrics.image import image_auroc, image_f1, image_f1_max, roc_points, threshold_from_normal_scores
from core.metrics.pixel import PixelScores, aupro, pixel_auroc, pixel_f1_max
from core.metrics.confidence import frr_upper_bound
from core.metrics.thresholds import ThresholdChooser

__all__ = [
    "CategoryMetrics",
    "PixelScores",
    "ThresholdChooser",
    "aupro",
    "evaluate_category",
    "frr_upper_bound",
    "image_auroc",
    "image_f1",
    "image_f1_max",
    "mean_metrics",
    "pixel_auroc",
    "pixel_f1_max",
    "roc_points",
    "threshold_from_normal_scores",
]
