"""PhiNet, the one backbone built here rather than by timm, goes through a method end to end: fit, save, load, ONNX
export and runtime parity at 64 px with random weights. PaSTe, because it splits the backbone into a shared prefix and
a trained suffix. (Lite1/Lite2 are timm's EfficientNet-Lite like the default backbone the contract test runs.)"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.jobs import run_to_end
from core.model_store import load_model
from core.runtime import open_runtime
from core.training import train_job
from tests.core.methods.test_method_contract import SIZE, tiny_config


def test_paste_on_phinet_fits_exports_and_matches_onnx(tiny_categories, tmp_path) -> None:
    backbone = "phinet_7_1.2_0.5_6"
    config = replace(tiny_config("paste", epochs=1, batch_size=4), backbone=backbone)
    result = run_to_end(train_job(config, tiny_categories, tmp_path / "model", weights="random"))
    assert load_model(result.model_dir).manifest.config["backbone"] == backbone

    images = (np.random.default_rng(0).random((3, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    torch_scores, torch_maps = open_runtime(result.model_dir, "pytorch").predict(images)
    onnx_scores, onnx_maps = open_runtime(result.model_dir, "onnxruntime").predict(images)
    assert torch_maps.shape == onnx_maps.shape == (3, SIZE, SIZE)
    np.testing.assert_allclose(onnx_scores, torch_scores, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(onnx_maps, torch_maps, rtol=1e-3, atol=1e-4 * float(np.abs(torch_maps).max()))
