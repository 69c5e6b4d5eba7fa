"""PSI, its levels and the rolling window on generated numbers and tiny images (milliseconds each)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.drift.monitor import DriftMonitor
from core.drift.psi import ALARM, OK, WARN, bin_edges, level_of, psi, shares
from core.drift.reference import DriftReference
from core.drift.statistics import STATISTICS, frame_statistics
from core.errors import InputError


def _psi(reference: np.ndarray, window: np.ndarray) -> float:
    edges = bin_edges(reference, len(window))
    return psi(shares(window, edges), shares(reference, edges), len(window), len(reference))


def test_samples_of_one_distribution_read_as_stable_and_a_shift_as_major() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(100, 10, 200)
    steady = [_psi(reference, rng.normal(100, 10, 200)) for _ in range(50)]
    assert max(steady) < 0.1  # the chance part is taken off: no warn on a steady line
    assert _psi(reference, rng.normal(110, 10, 200)) > 0.25  # one standard deviation brighter


def test_levels_follow_the_rule_of_thumb_with_hysteresis() -> None:
    assert [level_of(value) for value in (None, 0.05, 0.1, 0.2, 0.25, 3.0)] == [OK, OK, WARN, WARN, ALARM, ALARM]
    assert level_of(0.22, ALARM) == ALARM and level_of(0.19, ALARM) == WARN  # leaves alarm below 0.2
    assert level_of(0.09, WARN) == WARN and level_of(0.07, WARN) == OK


def test_statistics_see_light_contrast_and_focus() -> None:
    rng = np.random.default_rng(1)
    image = np.clip(rng.normal(120, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    brightness, contrast, sharpness = frame_statistics(image)
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    assert brightness == pytest.approx(luma.mean()) and contrast == pytest.approx(luma.std())
    assert sharpness == pytest.approx(cv2.Laplacian(luma, cv2.CV_64F).var())
    blurred = frame_statistics(cv2.GaussianBlur(image, (0, 0), 1.5))
    assert blurred[2] < sharpness / 10 and abs(blurred[0] - brightness) < 1


def _reference(rng: np.random.Generator, **means: float) -> DriftReference:
    values = {category: {name: tuple(rng.normal(mean, 8, 100)) if name == "brightness" else
                         tuple(rng.normal(10, 1, 100)) for name in STATISTICS} for category, mean in means.items()}
    return DriftReference("abc", values, 100 * len(means))


def _frame(brightness: float) -> np.ndarray:
    return np.full((8, 8, 3), int(round(brightness)), np.uint8)


def test_the_window_is_judged_against_the_mix_of_its_categories() -> None:
    rng = np.random.default_rng(2)
    reference = _reference(rng, dark=40, bright=200)
    monitor = DriftMonitor(reference, window=100, every=10)
    states = [monitor.add(_frame(rng.normal(40 if index % 2 else 200, 8)), 10.0,
                          "dark" if index % 2 else "bright", index) for index in range(100)]
    state = states[-1]
    assert state is not None and state.frames == 100
    # Flat frames have no contrast and sharpness at all (reference 10): those drift, brightness must not.
    assert state.levels["brightness"] == OK and state.levels["contrast"] == ALARM
    only_dark = DriftMonitor(reference, window=100, every=100)
    for index in range(100):  # the same bright frames labelled "dark": a shift of 160 grey levels
        last = only_dark.add(_frame(200), 10.0, "dark", index)
    assert last is not None and last.levels["brightness"] == ALARM and "brightness" in last.summary()


def test_too_few_reference_values_are_not_judged() -> None:
    reference = DriftReference("abc", {"part": {name: (1.0,) * 5 for name in STATISTICS}}, 5)
    monitor = DriftMonitor(reference, window=20, every=1)
    for index in range(20):
        state = monitor.add(_frame(100), 1.0, "part", index)
    assert state is not None and state.psi["score"] is None and state.level == OK
    assert "score n/a" in state.summary()


def test_a_cached_reference_reads_back_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    reference = _reference(np.random.default_rng(3), part=100)
    again = DriftReference.from_json(json.loads(json.dumps(reference.to_json())), tmp_path / "x.json")
    assert again == reference
    with pytest.raises(InputError, match="x.json: not a drift reference"):
        DriftReference.from_json({"format": "other"}, tmp_path / "x.json")


def test_a_shift_too_small_to_matter_raises_nothing_however_tight_the_reference() -> None:
    rng = np.random.default_rng(4)
    tight = {name: tuple(rng.normal(137.0, 0.8, 100)) for name in STATISTICS}  # controlled light: +-1 grey level
    monitor = DriftMonitor(DriftReference("abc", {"part": tight}, 100), window=50, every=50)
    for index in range(50):  # one grey level brighter: a large PSI, below the 3-level tolerance
        state = monitor.add(_frame(rng.normal(138.0, 0.8)), 137.0, "part", index)
    assert state is not None and state.psi["brightness"] > 0.25
    assert state.levels["brightness"] == OK and abs(state.shift["brightness"] - 1.0) < 0.6
    for index in range(50, 100):  # ten levels brighter
        state = monitor.add(_frame(rng.normal(147.0, 0.8)), 137.0, "part", index)
    assert state is not None and state.levels["brightness"] == ALARM and state.shift["brightness"] > 8
    assert "brightness" in state.summary() and " alarm" in state.summary()


def test_frames_of_unknown_category_are_judged_as_the_closest_category() -> None:
    rng = np.random.default_rng(5)
    reference = _reference(rng, dark=40, bright=200)
    monitor = DriftMonitor(reference, window=60, every=60)
    for index in range(60):  # a camera on the line of bright parts: the path names no category
        state = monitor.add(_frame(rng.normal(200, 8)), 10.0, "", index)
    assert state is not None and monitor.assumed == "bright" and state.levels["brightness"] == OK
    assert "as bright" in state.summary()
