"""Tests of core.metrics: hand-computed values, sklearn and a slow reference AUPRO as oracles, None cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import f1_score, roc_auc_score

from core.metrics import (
    CategoryMetrics,
    aupro,
    evaluate_category,
    image_auroc,
    image_f1,
    image_f1_max,
    mean_metrics,
    pixel_auroc,
    pixel_f1_max,
    roc_points,
    threshold_from_normal_scores,
)
from core.metrics.pixel import region_weights


def reference_aupro(masks: np.ndarray, maps: np.ndarray, fpr_limit: float) -> float:
    """Straightforward AUPRO: every distinct threshold, explicit overlap of every region, trapezoids to the limit."""
    regions = []
    for index, mask in enumerate(masks):
        labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
        regions += [(index, labels == k) for k in range(1, count + 1)]
    normal = ~masks
    fprs, pros = [0.0], [0.0]
    for threshold in np.unique(maps)[::-1]:
        predicted = maps >= threshold
        fprs.append(predicted[normal].mean())
        pros.append(np.mean([predicted[index][region].mean() for index, region in regions]))
    area = 0.0
    for k in range(1, len(fprs)):
        x0, x1, y0, y1 = fprs[k - 1], fprs[k], pros[k - 1], pros[k]
        if x1 <= fpr_limit:
            area += (x1 - x0) * (y0 + y1) / 2
        elif x0 < fpr_limit:
            y_limit = y0 + (y1 - y0) * (fpr_limit - x0) / (x1 - x0)
            area += (fpr_limit - x0) * (y0 + y_limit) / 2
            break
    return area / fpr_limit


def blob_masks(rng: np.random.Generator, n: int, size: int, fraction: float) -> np.ndarray:
    """Masks with several irregular regions each: thresholded smoothed noise."""
    noise = ndimage.gaussian_filter(rng.random((n, size, size)), sigma=(0, 1.5, 1.5))
    return noise > np.quantile(noise, 1 - fraction)


def scored(rng: np.random.Generator, masks: np.ndarray, levels: int | None) -> np.ndarray:
    """Noisy anomaly maps, higher inside the masks; quantised to `levels` values to create ties."""
    maps = rng.normal(size=masks.shape) + 1.2 * masks
    if levels is not None:
        maps = np.round(maps * levels / 8) / (levels / 8)
    return maps


def test_image_auroc_known_values() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    assert image_auroc(labels, np.array([0.1, 0.2, 0.3, 0.8, 0.9])) == 1.0
    assert image_auroc(labels, np.array([0.9, 0.8, 0.7, 0.2, 0.1])) == 0.0
    # One defect above all normals, one tied with a normal and above the other two: (3 + 2.5) / 6.
    assert image_auroc(labels, np.array([0.1, 0.2, 0.5, 0.5, 0.9])) == pytest.approx(5.5 / 6)
    rng = np.random.default_rng(0)
    assert image_auroc(rng.integers(0, 2, 4000), rng.random(4000)) == pytest.approx(0.5, abs=0.03)


def test_image_metrics_are_none_with_one_class() -> None:
    assert image_auroc(np.array([0, 0]), np.array([0.1, 0.2])) is None
    assert image_auroc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    assert image_f1(np.array([0, 0]), np.array([0.1, 0.9]), 0.5) is None
    fpr, tpr = roc_points(np.array([1, 1]), np.array([0.1, 0.2]))
    assert fpr.size == 0 and tpr.size == 0


def test_image_f1_at_threshold() -> None:
    labels = np.array([0, 0, 1, 1])
    # Predicted [0, 1, 1, 0]: TP 1, FP 1, FN 1 -> F1 = 2 / 4.
    assert image_f1(labels, np.array([0.1, 0.6, 0.7, 0.2]), 0.5) == pytest.approx(0.5)
    # A score equal to the threshold is called defective.
    assert image_f1(labels, np.array([0.1, 0.2, 0.5, 0.9]), 0.5) == 1.0
    assert image_f1(labels, np.array([0.1, 0.2, 0.3, 0.4]), 0.5) == 0.0
    assert image_f1(np.array([1, 1]), np.array([0.7, 0.2]), 0.5) == pytest.approx(2 / 3)


def test_image_f1_max_is_the_best_f1_over_every_threshold() -> None:
    labels = np.array([0, 0, 0, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.8, 0.3, 0.7, 0.9])
    best = max(image_f1(labels, scores, threshold) for threshold in scores)  # 0.3: TP 3, FP 1 -> 6 / 7
    assert image_f1_max(labels, scores) == pytest.approx(best) == pytest.approx(6 / 7)
    assert image_f1_max(labels, scores) >= image_f1(labels, scores, 0.5)
    assert image_f1_max(np.array([0, 1]), np.array([0.1, 0.9])) == 1.0
    assert image_f1_max(np.array([0, 0]), np.array([0.1, 0.9])) is None


def test_roc_points_span_the_curve() -> None:
    fpr, tpr = roc_points(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert any(f == 0.0 and t == 1.0 for f, t in zip(fpr, tpr))
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)


def test_image_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="labels"):
        image_auroc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match="NaN"):
        image_auroc(np.array([0, 1]), np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        image_f1(np.array([0, 1]), np.array([0.1, 0.2, 0.3]), 0.5)


def test_pixel_auroc_known_values() -> None:
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[1, 1:3, 1:3] = True
    assert pixel_auroc(masks, masks * 1.0 + 0.1) == 1.0
    assert pixel_auroc(masks, 1.0 - masks) == 0.0
    assert pixel_auroc(masks, np.full(masks.shape, 0.3)) == 0.5
    rng = np.random.default_rng(1)
    big = rng.random((4, 64, 64)) < 0.2
    assert pixel_auroc(big, rng.random(big.shape)) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("levels", [3, 40, None])
def test_pixel_auroc_matches_sklearn(levels: int | None) -> None:
    # Quantised scores give many ties between normal and defect pixels; the result must still be sklearn's.
    rng = np.random.default_rng(11)
    masks = blob_masks(rng, 5, 32, 0.1)
    maps = scored(rng, masks, levels)
    assert pixel_auroc(masks, maps) == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)


def test_pixel_metrics_none_without_both_classes() -> None:
    maps = np.random.default_rng(2).random((2, 8, 8))
    no_defect = np.zeros(maps.shape, dtype=bool)
    all_defect = np.ones(maps.shape, dtype=bool)
    assert pixel_auroc(no_defect, maps) is None
    assert pixel_auroc(all_defect, maps) is None
    assert pixel_f1_max(no_defect, maps) is None
    assert aupro(no_defect, maps) is None
    assert aupro(all_defect, maps) is None
    # Everything defective: calling every pixel defective is perfect.
    assert pixel_f1_max(all_defect, maps) == 1.0


@pytest.mark.parametrize("levels", [3, 30, None])
def test_pixel_f1_max_matches_brute_force_sklearn(levels: int | None) -> None:
    rng = np.random.default_rng(3)
    masks = blob_masks(rng, 3, 12, 0.15)
    maps = scored(rng, masks, levels)
    truth = masks.ravel()
    best = max(f1_score(truth, maps.ravel() >= t) for t in np.unique(maps))
    assert pixel_f1_max(masks, maps) == pytest.approx(best, abs=1e-12)


def test_pixel_f1_max_known_values() -> None:
    masks = np.array([[[True, True, False, False]]])
    assert pixel_f1_max(masks, np.array([[[0.9, 0.8, 0.1, 0.2]]])) == 1.0
    # Best is t = 0.8 (TP 1, FP 1, FN 0 -> 2/3) or t = 0.1 (TP 1, FP 3 -> 2/5): 2/3.
    masks = np.array([[[True, False, False, False]]])
    assert pixel_f1_max(masks, np.array([[[0.8, 0.9, 0.1, 0.2]]])) == pytest.approx(2 / 3)


def test_regions_are_8_connected_within_each_image_only() -> None:
    masks = np.zeros((2, 5, 5), dtype=bool)
    masks[0, 0, 0] = masks[0, 1, 1] = True  # diagonal neighbours: one region
    masks[0, 4, 2:5] = True  # a second region of 3 pixels
    masks[1, 0, 0] = True  # same place in the next image: a separate region
    weights, count = region_weights(masks)
    assert count == 3
    # C-order of the defect pixels: (0,0,0), (0,1,1), (0,4,2..4), (1,0,0).
    np.testing.assert_allclose(weights, [1 / 6, 1 / 6, 1 / 9, 1 / 9, 1 / 9, 1 / 3])


def test_aupro_hand_computed() -> None:
    # Defect regions: pixel 0 (0.9) and pixel 3 (0.3); normal pixels 0.5 and 0.1.
    # Curve: (0, 0) -> (0, 0.5) -> (0.5, 0.5) -> (0.5, 1) -> (1, 1).
    masks = np.array([[[True, False, False, True]]])
    maps = np.array([[[0.9, 0.5, 0.1, 0.3]]])
    assert aupro(masks, maps, fpr_limit=1.0) == pytest.approx(0.75)
    assert aupro(masks, maps) == pytest.approx(0.5)
    assert aupro(masks, maps, fpr_limit=0.75) == pytest.approx(0.5 / 0.75)
    # A tie between a normal and a defect pixel gives a diagonal segment, cut at the limit by interpolation:
    # (0, 0.5) -> (0.5, 1); at FPR 0.25 the overlap is 0.75, area 0.25 * (0.5 + 0.75) / 2.
    maps = np.array([[[0.9, 0.5, 0.1, 0.5]]])
    assert aupro(masks, maps, fpr_limit=0.25) == pytest.approx(0.15625 / 0.25)


def test_aupro_perfect_and_inverted() -> None:
    masks = blob_masks(np.random.default_rng(4), 3, 16, 0.1)
    assert aupro(masks, masks + 0.5) == pytest.approx(1.0)
    assert aupro(masks, 1.0 - masks) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("levels", "fpr_limit"), [(None, 0.3), (25, 0.3), (25, 0.05), (None, 1.0), (4, 0.3), (4, 0.7), (4, 1.0)]
)
def test_aupro_matches_reference(levels: int | None, fpr_limit: float) -> None:
    rng = np.random.default_rng(5)
    masks = blob_masks(rng, 4, 20, 0.12)
    masks[0] = False  # a normal image
    masks[1, :10] = False  # a defective image whose region is cut, keeping other regions
    maps = scored(rng, masks, levels)
    _, count = region_weights(masks)
    assert count >= 5, "the test data must have several regions"
    expected = reference_aupro(masks, maps, fpr_limit)
    assert aupro(masks, maps, fpr_limit) == pytest.approx(expected, abs=1e-10)


def test_aupro_float32_maps() -> None:
    rng = np.random.default_rng(6)
    masks = blob_masks(rng, 3, 20, 0.1)
    maps = scored(rng, masks, None).astype(np.float32)
    assert aupro(masks, maps) == pytest.approx(reference_aupro(masks, maps, 0.3), abs=1e-10)


def test_pixel_inputs_are_validated() -> None:
    masks = np.zeros((2, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match="shape"):
        pixel_auroc(masks, np.zeros((2, 4, 5)))
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        aupro(masks, maps)
    with pytest.raises(ValueError, match="fpr_limit"):
        aupro(masks, np.zeros((2, 4, 4)), fpr_limit=0.0)


def category_data(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Six images: two normal, three defective with regions, one defective with an empty mask."""
    masks = blob_masks(rng, 6, 16, 0.1)
    masks[:2] = False
    masks[5] = False
    labels = np.array([0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.3, 0.6, 0.9, 0.2, 0.7])
    return labels, scores, masks, scored(rng, masks, None)


def test_evaluate_category_combines_the_metrics() -> None:
    labels, scores, masks, maps = category_data(np.random.default_rng(7))
    result = evaluate_category(labels, scores, masks, maps, threshold=0.5)
    assert result == CategoryMetrics(
        image_auroc=image_auroc(labels, scores),
        pixel_auroc=pixel_auroc(masks, maps),
        pixel_f1_max=pixel_f1_max(masks, maps),
        aupro=aupro(masks, maps),
        image_f1=image_f1(labels, scores, 0.5),
        image_f1_max=image_f1_max(labels, scores),
        n_images=6,
        n_defective=4,
    )
    # The defective image with an empty mask counts for image metrics: (2 + 2 + 1 + 2) / 8 pairs won.
    assert result.image_auroc == pytest.approx(7 / 8)
    assert result.aupro == pytest.approx(reference_aupro(masks, maps, 0.3), abs=1e-10)
    assert set(result.as_dict()) == {
        "image_auroc", "pixel_auroc", "pixel_f1_max", "aupro", "image_f1", "image_f1_max", "n_images", "n_defective"
    }


def test_evaluate_category_without_masks_or_defects() -> None:
    labels, scores, masks, maps = category_data(np.random.default_rng(8))
    no_masks = evaluate_category(labels, scores, None, None, threshold=0.5)
    assert no_masks.pixel_auroc is None and no_masks.aupro is None and no_masks.pixel_f1_max is None
    assert no_masks.image_auroc is not None
    normal_only = evaluate_category(labels[:2], scores[:2], masks[:2], maps[:2], threshold=0.5)
    assert normal_only.as_dict() == {
        "image_auroc": None, "pixel_auroc": None, "pixel_f1_max": None, "aupro": None, "image_f1": None,
        "image_f1_max": None, "n_images": 2, "n_defective": 0,
    }


def test_evaluate_category_rejects_a_normal_image_with_defect_pixels() -> None:
    labels, scores, masks, maps = category_data(np.random.default_rng(9))
    labels = labels.copy()
    labels[2] = 0
    with pytest.raises(ValueError, match="labelled normal"):
        evaluate_category(labels, scores, masks, maps, threshold=0.5)


def test_mean_metrics_ignores_none() -> None:
    first = CategoryMetrics(0.8, 0.9, None, 0.5, None, 0.9, 10, 5)
    second = CategoryMetrics(0.6, None, None, 0.7, None, None, 10, 0)
    means = mean_metrics({"bottle": first, "cable": second})
    assert means == pytest.approx(
        {"image_auroc": 0.7, "pixel_auroc": 0.9, "pixel_f1_max": None, "aupro": 0.6, "image_f1": None,
         "image_f1_max": 0.9}
    )
    assert mean_metrics({}) == dict.fromkeys(means)


def test_threshold_from_one_and_few_normal_scores() -> None:
    assert threshold_from_normal_scores(np.array([2.0])) > 2.0
    assert threshold_from_normal_scores(np.array([0.0])) > 0.0
    assert threshold_from_normal_scores(np.array([-3.0])) > -3.0
    few = np.array([0.4, 0.1, 0.3, 0.2, 0.25])
    # Too few scores to see a 1 % tail: the maximum plus 10 % of its distance to the median.
    assert threshold_from_normal_scores(few) == pytest.approx(0.4 + 0.1 * (0.4 - 0.25))
    assert threshold_from_normal_scores(few, margin=0.0) > 0.4
    assert threshold_from_normal_scores(np.full(4, 0.7)) > 0.7


def test_threshold_from_many_normal_scores() -> None:
    rng = np.random.default_rng(10)
    held_out = rng.normal(size=5000)
    threshold = threshold_from_normal_scores(held_out, false_alarm_rate=0.01)
    assert np.mean(held_out >= threshold) <= 0.01
    assert threshold == pytest.approx(np.quantile(held_out, 0.99), abs=0.3)
    # On new normal images the false alarm rate is near the target (a bit below, thanks to the margin).
    assert 0.002 <= np.mean(rng.normal(size=200_000) >= threshold) <= 0.015
    assert threshold_from_normal_scores(held_out, false_alarm_rate=0.1) < threshold


def test_threshold_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="no normal scores"):
        threshold_from_normal_scores(np.array([]))
    with pytest.raises(ValueError, match="NaN"):
        threshold_from_normal_scores(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="false_alarm_rate"):
        threshold_from_normal_scores(np.array([0.1]), false_alarm_rate=1.0)
