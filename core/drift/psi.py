"""The population stability index (PSI) of a window of live values against reference values, and its levels.

PSI = sum over bins of (p - q) * ln(p / q), p the window's share and q the reference's share of a bin; bins are the
reference's quantiles, so each holds an equal share of the reference. The usual rule of thumb reads below 0.1 as
stable, 0.1 to 0.25 as a moderate shift (warn) and above 0.25 as a major shift (alarm).

That rule assumes large samples: two samples of N and M values from one distribution give a PSI of about
(B - 1) * (1/N + 1/M) for B bins by chance alone (0.09 for 10 bins and 200 values each), which would warn on a
perfectly steady line. So the number of bins follows the smaller of the reference and the window (one bin per 10
values, 2 to 10), counts are smoothed by half a count per bin (a bin a small window happens to miss would otherwise
count as a major shift on its own), and that expected chance value is subtracted (floored at 0) before the levels
apply.
"""

from __future__ import annotations

import numpy as np

OK, WARN, ALARM = "ok", "warn", "alarm"
LEVELS = (OK, WARN, ALARM)
WARN_PSI, ALARM_PSI = 0.1, 0.25
MAX_BINS = 10
VALUES_PER_BIN = 10
MIN_REFERENCE = 20  # fewer reference values than this (e.g. few held-out scores) cannot be judged: "n/a"
_SMOOTHING = 0.5  # counts added to every bin


def bin_edges(reference: np.ndarray, window: int) -> np.ndarray:
    """Inner edges of the bins: the reference's quantiles (duplicates merged, as a constant statistic has one)."""
    bins = int(np.clip(min(len(reference), window) // VALUES_PER_BIN, 2, MAX_BINS))
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The smoothed share of `values` in each of the len(edges) + 1 bins."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return (counts + _SMOOTHING) / (len(values) + _SMOOTHING * len(counts))


def psi(window_shares: np.ndarray, reference_shares: np.ndarray, window_count: int, reference_count: int) -> float:
    """PSI of two binnings, less what two samples of these sizes from one distribution would give by chance."""
    p, q = window_shares, reference_shares
    raw = float(np.sum((p - q) * np.log(p / q)))
    chance = (len(p) - 1) * (1 / max(window_count, 1) + 1 / max(reference_count, 1))
    return max(0.0, raw - chance)


HYSTERESIS = 0.8  # a level is left only when PSI falls below 80 % of its threshold: no flicker at the border


def level_of(value: float | None, previous: str = OK) -> str:
    """ok / warn / alarm for a PSI value (None, not judged, is ok), given the level it had at the last check."""
    if value is None:
        return OK
    for level, threshold in ((ALARM, ALARM_PSI), (WARN, WARN_PSI)):
        if value >= threshold or (LEVELS.index(previous) >= LEVELS.index(level) and value >= threshold * HYSTERESIS):
            return level
    return OK
