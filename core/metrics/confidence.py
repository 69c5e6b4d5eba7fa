"""How sure a threshold chosen from n normal images is: an upper bound on its false-reject rate (binomial).

Each new normal part is rejected with some unknown probability p, the false-reject rate. Of n normal images that
were not used to fit the model (out of fold or held out), k scored at or above the threshold: k is binomial(n, p).
The one-sided Clopper-Pearson bound is the largest p under which seeing k or fewer would still happen with
probability 1 - confidence; p lies below it with at least that confidence, whatever p is (exact, not asymptotic).
With k = 0 it is 1 - (1 - confidence)^(1/n): 35 images give 6.4 % at 90 %, 230 images 1 %.

Example:
    >>> frr_upper_bound(exceeding=0, images=35, confidence=0.9)
    0.0637...
"""

from __future__ import annotations

from scipy.stats import beta

DEFAULT_CONFIDENCE = 0.9


def frr_upper_bound(exceeding: int, images: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """Clopper-Pearson upper bound of the false-reject rate; ValueError for no images or counts that do not fit."""
    if images < 1 or not 0 <= exceeding <= images:
        raise ValueError(f"{exceeding} of {images} images: need 0 <= exceeding <= images and images >= 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if exceeding == images:
        return 1.0
    return float(beta.ppf(confidence, exceeding + 1, images - exceeding))
