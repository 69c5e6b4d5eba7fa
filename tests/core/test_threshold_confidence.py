"""A target false-reject rate and the statement of how sure it is: the Clopper-Pearson bound, the chooser's basis
per category, the manifest's record of it (old manifests still load), and variants' scores carried onto their scale."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from core.errors import InputError
from core.metrics import ThresholdChooser, frr_upper_bound
from core.metrics.thresholds import carried_scores
from core.model_manifest import ThresholdBasis, Thresholds


def test_the_bound_with_no_false_reject_is_the_closed_form_and_with_some_the_binomial_tail() -> None:
    assert frr_upper_bound(0, 35, 0.9) == pytest.approx(1 - 0.1 ** (1 / 35))  # 6.4 %
    assert frr_upper_bound(0, 230, 0.9) == pytest.approx(0.00996, abs=1e-4)  # what 1 % at 90 % takes
    for exceeding, images in ((1, 35), (3, 300), (10, 53)):
        upper = frr_upper_bound(exceeding, images, 0.9)
        assert binom.cdf(exceeding, images, upper) == pytest.approx(0.1)  # seeing so few is 10 % likely there
    assert frr_upper_bound(5, 5) == 1.0
    with pytest.raises(ValueError, match="6 of 5 images"):
        frr_upper_bound(6, 5)


def test_each_category_states_how_sure_its_threshold_is() -> None:
    rng = np.random.default_rng(0)
    chooser = ThresholdChooser(target_frr=0.01, source="out-of-fold", folds=5)
    chooser.add("tire", rng.normal(1.0, 0.1, 35), np.zeros((35, 16, 16)))
    chooser.add("tile", rng.normal(5.0, 1.0, 400), np.zeros((400, 16, 16)))
    thresholds = chooser.thresholds()
    assert thresholds.statements()["tire"] == ("chosen from 35 normal images (out of fold, 5 folds): the false-reject "
                                               "rate is below 6.4 % with 90 % confidence (target 1 %)")
    tile = thresholds.basis["tile"]
    # 400 scores locate the 99th percentile: a few lie above it, and the bound counts them.
    assert 0 < tile.exceeding <= 4 and tile.frr_upper == pytest.approx(frr_upper_bound(tile.exceeding, 400), abs=1e-4)
    assert len(thresholds.normal_scores["tile"]) == 400
    # A looser target puts the threshold lower.
    loose = ThresholdChooser(target_frr=0.1)
    loose.add("tile", np.asarray(thresholds.normal_scores["tile"]), np.zeros((400, 16, 16)))
    assert loose.thresholds().per_category["tile"] < thresholds.per_category["tile"]
    assert loose.thresholds().basis["tile"].statement().startswith("chosen from 400 normal images (held out)")


def test_the_basis_and_scores_travel_through_the_manifest_and_old_thresholds_still_load(tmp_path) -> None:
    chooser = ThresholdChooser(target_frr=0.02, source="out-of-fold", folds=3)
    chooser.add("bottle", np.linspace(0.1, 0.2, 12), np.zeros((12, 8, 8)))
    thresholds = chooser.thresholds()
    again = Thresholds.from_json(thresholds.to_json(), tmp_path)
    assert again.basis == thresholds.basis
    assert again.normal_scores["bottle"] == pytest.approx(thresholds.normal_scores["bottle"])
    old = Thresholds.from_json({"image": 0.3, "per_category": {"bottle": 0.3}, "map_low": 0.1}, tmp_path)
    assert old.basis == {} and old.normal_scores == {} and old.statements() == {}
    broken = thresholds.to_json()
    broken["basis"]["bottle"]["images"] = "many"
    with pytest.raises(InputError, match="basis bottle: images missing or of the wrong type"):
        Thresholds.from_json(broken, tmp_path)


def test_a_basis_reads_in_whole_percent_where_it_can() -> None:
    basis = ThresholdBasis("held-out", 0, 1, 0.005, 0, 0.95, 0.95)
    assert basis.statement() == ("chosen from 1 normal image (held out): the false-reject rate is below 95 % with "
                                 "95 % confidence (target 0.5 %)")


def test_scores_are_carried_onto_a_variant_scale_by_the_line_between_the_two() -> None:
    fp32 = np.array([0.1, 0.2, 0.3, 0.4])
    carried = carried_scores([0.5, 1.0], fp32, 2 * fp32 + 0.05)  # the variant doubles and shifts every score
    assert carried == pytest.approx([1.05, 2.05])
    assert carried_scores([0.5], np.array([0.2, 0.2]), np.array([0.25, 0.27])) == pytest.approx([0.56])  # a shift
