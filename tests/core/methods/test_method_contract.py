"""Every method through fit, predict, save, load, ONNX export and runtime parity (anomalib's contract test idea)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.jobs import CancelToken, run_to_end
from core.methods.config import ModelConfig
from core.methods.registry import METHODS, build_model, get_method, resolve_config
from core.model_store import load_model
from core.runtime import open_runtime
from core.training import train_job

SIZE = 64


def tiny_config(method: str) -> ModelConfig:
    return ModelConfig(method=method, image_size=SIZE, epochs=1, batch_size=4, coreset_ratio=0.2)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_fit_save_load_export_and_runtime_parity(method, tiny_categories, tmp_path) -> None:
    result = run_to_end(train_job(tiny_config(method), tiny_categories, tmp_path / "model", weights="random"))
    model = load_model(result.model_dir)
    assert model.categories == ["stripes", "waves"]
    assert set(model.manifest.thresholds.per_category) == {"stripes", "waves"}

    images = (np.random.default_rng(0).random((3, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    torch_scores, torch_maps = open_runtime(result.model_dir, "pytorch").predict(images)
    onnx_runtime = open_runtime(result.model_dir, "onnxruntime")
    onnx_scores, onnx_maps = onnx_runtime.predict(images)
    assert onnx_runtime.name == "onnxruntime"
    assert torch_maps.shape == onnx_maps.shape == (3, SIZE, SIZE)
    np.testing.assert_allclose(onnx_scores, torch_scores, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(onnx_maps, torch_maps, rtol=1e-3, atol=1e-4 * float(np.abs(torch_maps).max()))


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_defect_scores_higher_than_normal_images(method, tiny_categories, tmp_path) -> None:
    """With ImageNet weights the tiny model already separates a bright square from stripes."""
    config = ModelConfig(method=method, image_size=SIZE, epochs=5, batch_size=4, coreset_ratio=0.5)
    result = run_to_end(train_job(config, tiny_categories[:1], tmp_path / "model"))
    runtime = open_runtime(result.model_dir)
    from core.data.dataset import discover_category, load_test_set

    test = load_test_set(discover_category(tiny_categories[0]), SIZE)
    scores, maps = runtime.predict(test.images)
    assert scores[test.labels == 1].min() > scores[test.labels == 0].max()
    defect = maps[test.labels == 1][test.masks[test.labels == 1]].mean()
    assert defect > maps[test.labels == 1][~test.masks[test.labels == 1]].mean()


def test_paste_student_has_no_layers_before_the_first_tap() -> None:
    config = resolve_config(ModelConfig(method="paste"))
    stfpm = build_model(resolve_config(ModelConfig(method="stfpm", layer_group="paste")), weights="random")
    paste = build_model(config, weights="random")
    assert paste.shared_prefix == config.layers[0] == 6
    trainable = lambda model: sum(p.numel() for p in model.parameters() if p.requires_grad)  # noqa: E731
    assert trainable(paste) < trainable(stfpm)
    assert len(paste.student) == len(stfpm.student) - 6


def test_student_training_keeps_the_teacher_frozen() -> None:
    config = resolve_config(ModelConfig(method="stfpm", image_size=SIZE, epochs=1, batch_size=4))
    model = build_model(config, weights="random")
    before = {key: value.clone() for key, value in model.teacher.state_dict().items()}
    images = torch.randint(0, 255, (8, 3, SIZE, SIZE), dtype=torch.uint8)
    run_to_end(get_method("stfpm").fit(model, images, config, CancelToken()))
    after = model.teacher.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # batch-norm statistics included


def test_patchcore_neighbour_index_lists_each_entry_first() -> None:
    config = resolve_config(ModelConfig(method="patchcore", image_size=SIZE))
    model = build_model(config, weights="random")
    bank = torch.randn(50, model.embedding_dim)
    model.set_memory_bank(bank, neighbours=5)
    assert torch.equal(model.memory_neighbours[:, 0], torch.arange(50))


def test_patchcore_scores_are_nearest_neighbour_distances() -> None:
    config = resolve_config(ModelConfig(method="patchcore", image_size=SIZE))
    model = build_model(config, weights="random").eval()
    bank = torch.randn(300, model.embedding_dim)
    model.set_memory_bank(bank, neighbours=3)
    assert torch.allclose(model.memory_bank, bank, atol=1e-5)
    pixels = torch.rand(2, 3, SIZE, SIZE) * 255
    with torch.no_grad():
        patches = model.embed(pixels).permute(0, 2, 3, 1).reshape(-1, model.embedding_dim)
        expected = torch.cdist(patches, bank).min(dim=1).values.reshape(2, -1).max(dim=1).values
        scores, _ = model(pixels)
    # the image score is the worst patch's distance, down-weighted by at most a factor in (0, 1]
    assert torch.all(scores <= expected * 1.0001) and torch.all(scores > 0.3 * expected)
