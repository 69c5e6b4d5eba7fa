"""Variants of a model whose thresholds came from out-of-fold scores: their own graph's thresholds, by the same
rule, from the FP32 out-of-fold scores carried onto the variant's scale (real ONNX Runtime)."""

from __future__ import annotations

import numpy as np
import pytest

from core.bundle import verify_bundle
from core.errors import InputError
from core.export.calibration import calibration_inputs
from core.export.comparison import default_variants
from core.export.variants import VariantSpec, export_variant_job
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.model_manifest import read_manifest
from core.training import train_job


@pytest.fixture(scope="module")
def out_of_fold_model(tmp_path_factory):
    from tests.conftest import make_mvtec_category

    root = tmp_path_factory.mktemp("oof-variants")
    data = [make_mvtec_category(root / "data", "stripes", seed=1), make_mvtec_category(root / "data", "waves", seed=2)]
    config = ModelConfig(method="patchcore", image_size=64, settings=PatchcoreSettings(coreset_ratio=0.2))
    return run_to_end(train_job(config, data, root / "model", weights="random", target_frr=0.05)).model_dir


def test_an_fp32_variant_keeps_the_out_of_fold_thresholds_and_an_int8_one_gets_its_own(out_of_fold_model,
                                                                                       tmp_path) -> None:
    model = read_manifest(out_of_fold_model).thresholds
    assert read_manifest(out_of_fold_model).holdout_fraction == 0.0  # nothing held out: every image scored OOF
    fp32 = verify_bundle(run_to_end(export_variant_job(out_of_fold_model, VariantSpec("fp32"), tmp_path / "a")))
    for name, threshold in model.per_category.items():
        # The same graph: the line between its scores and FP32's is the identity (up to ONNX Runtime rounding).
        assert fp32.thresholds.per_category[name] == pytest.approx(threshold, rel=1e-3)
        assert fp32.thresholds.basis[name] == model.basis[name]
    spec = VariantSpec("int8", "ptq", "random-normal", calibration_samples=8)
    int8 = verify_bundle(run_to_end(export_variant_job(out_of_fold_model, spec, tmp_path / "b")))
    assert int8.fp32_drift["images"] == 24  # all 12 training images of each category, scored by both graphs
    for name, threshold in model.per_category.items():
        basis = int8.thresholds.basis[name]
        assert (basis.source, basis.folds, basis.images, basis.target_frr) == ("out-of-fold", 10, 12, 0.05)
        scores = np.asarray(int8.thresholds.normal_scores[name])
        # Chosen by the one rule from the carried scores, which are not FP32's (INT8 moves them).
        assert int8.thresholds.per_category[name] > scores.max() or basis.exceeding > 0
        assert not np.allclose(scores, model.normal_scores[name], rtol=1e-6)


def test_a_model_that_held_nothing_out_is_not_calibrated_on_held_out_images(out_of_fold_model) -> None:
    manifest = read_manifest(out_of_fold_model)
    with pytest.raises(InputError, match="held no normal images out .* calibrate on train or random-normal"):
        calibration_inputs(manifest, "heldout", 8)
    names = [spec.name for spec in default_variants("patchcore", 8, held_out=False)]
    assert names == ["fp32-cpu", "fp16-cpu", "int8-ptq-train-cpu", "int8-ptq-random-normal-cpu"]
