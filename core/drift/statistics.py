"""Per-frame image statistics cheap enough for the frame thread (0.09 ms at 256 px on the 2-core Xeon at load 2.6,
0.2 ms at load 5).

They are taken on the model-sized input (the frame as the network sees it), so a camera's resolution does not move
them and the training reference is computed on the very same pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

BRIGHTNESS, CONTRAST, SHARPNESS, SCORE = "brightness", "contrast", "sharpness", "score"
IMAGE_STATISTICS = (BRIGHTNESS, CONTRAST, SHARPNESS)
STATISTICS = (*IMAGE_STATISTICS, SCORE)


def frame_statistics(pixels: np.ndarray) -> np.ndarray:
    """(brightness, contrast, sharpness) of an H x W x 3 RGB uint8 image, as float64: the mean luma, the luma's
    standard deviation, and the variance of its Laplacian (a focus measure: blur removes the high frequencies)."""
    luma = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    mean, std = cv2.meanStdDev(luma)
    # 16-bit Laplacian (exact for 8-bit input) and its first two moments by norm and sum: half the time of a float
    # Laplacian and meanStdDev, which matters on the frame thread.
    laplacian = cv2.Laplacian(luma, cv2.CV_16S)
    count = laplacian.size
    edge_mean = cv2.sumElems(laplacian)[0] / count
    edge_variance = cv2.norm(laplacian, cv2.NORM_L2SQR) / count - edge_mean**2
    return np.array([mean[0, 0], std[0, 0], edge_variance], np.float64)


# How far a statistic's median must move from the reference's before PSI may raise a level: PSI says that the
# distribution moved, not whether by enough to matter. MVTec bottle's test/good images are 1.2 grey levels brighter
# and 6 % sharper than its train/good ones (a PSI of 0.8: controlled lighting makes the statistics very tight);
# nobody should be called for that. Absolute for brightness and contrast (grey levels), relative for sharpness
# (the Laplacian's variance scales with the square of the edges' contrast). The score counts only when it climbs:
# that is the drift that turns into false rejects. Falling scores are what a new batch of normal parts shows against
# out-of-fold reference scores (each of those came from a model fitted on fewer images: 0.03-0.04 higher on a
# 64 px PatchCore test line), and a dark or blurred camera is seen by the image statistics.
ABSOLUTE_TOLERANCE = {BRIGHTNESS: 3.0, CONTRAST: 3.0}
RELATIVE_TOLERANCE = {SHARPNESS: 0.2}


def shift_matters(statistic: str, window_median: float, reference_median: float) -> bool:
    """Whether the window's median is far enough from the reference's for a drift level to be raised."""
    change = abs(window_median - reference_median)
    if statistic == SCORE:
        return window_median > reference_median
    if statistic in ABSOLUTE_TOLERANCE:
        return change >= ABSOLUTE_TOLERANCE[statistic]
    if statistic in RELATIVE_TOLERANCE:
        return change >= RELATIVE_TOLERANCE[statistic] * abs(reference_median)
    return True
