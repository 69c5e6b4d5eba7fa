"""PaDiM: streaming Gaussian statistics, the Mahalanobis map against a reference, the seeded channel subset,
buffers through save/load, and a graph TensorRT 8.5 takes."""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import onnx
import pytest
import torch

from core.errors import InputError
from core.onnx_export import export_onnx
from core.export.trt_check import assert_tensorrt_compatible
from core.jobs import CancelToken, run_to_end
from core.methods.common import gaussian
from core.methods.common.gaussian import GaussianStatistics
from core.methods.config import ModelConfig
from core.methods.padim.settings import PadimSettings
from core.methods.registry import build_model, get_method, resolve_config
from core.model_store import load_model, save_model

SIZE = 64
LAYERS = (2, 5)  # strides 4 and 8: 16 x 16 positions at 64 px, 64 channels
CHANNELS = 20


@lru_cache(maxsize=None)  # fitted once per seed: building a backbone is most of each test's time
def fitted(seed: int = 0, images: int = 20, regularisation: float = 0.01):
    settings = PadimSettings(channels=CHANNELS, covariance_regularisation=regularisation)
    config = resolve_config(ModelConfig(method="padim", image_size=SIZE, layers=LAYERS, seed=seed, settings=settings))
    model = build_model(config, weights="random")
    pixels = torch.randint(0, 256, (images, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(seed),
                           dtype=torch.uint8)
    run_to_end(get_method("padim").fit(model, pixels, config, CancelToken()))
    return model, config, pixels


def test_streamed_statistics_equal_the_covariance_of_all_samples_at_once(monkeypatch) -> None:
    monkeypatch.setattr(gaussian, "INVERT_BLOCK", 2)  # 3 positions: a full block and a partial one
    samples = torch.randn(3, 50, 4, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 5.0
    statistics = GaussianStatistics(positions=3, dimension=4)
    for chunk in samples.split(7, dim=1):  # uneven chunks: the result must not depend on how images are batched
        statistics.add(chunk)
    mean, precision = statistics.finish(0.01)
    for position in range(3):
        expected = torch.cov(samples[position].T) + 0.01 * torch.eye(4, dtype=torch.float64)
        assert torch.allclose(statistics.covariance(0.01)[position], expected, atol=1e-10)
        assert torch.allclose(mean[position].double(), samples[position].mean(0), atol=1e-5)
        assert torch.allclose(precision[position].double(), torch.linalg.inv(expected), rtol=1e-4, atol=1e-5)


def test_the_map_is_the_mahalanobis_distance_of_a_reference_computation() -> None:
    model, _, pixels = fitted()
    train = model.embed(pixels.float()).double()  # N x d x h x w
    samples = train.flatten(2).permute(2, 0, 1).numpy()  # P x N x d
    test = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(9)) * 255
    with torch.no_grad():
        embedding = model.embed(test)
        distances = model.mahalanobis(embedding).flatten(1).numpy()  # N x P
    patches = embedding.double().flatten(2).permute(2, 0, 1).numpy()
    for position in (0, 17, 255):  # one category: its Gaussians are the only ones
        covariance = np.cov(samples[position], rowvar=False) + 0.01 * np.eye(CHANNELS)
        delta = patches[position] - samples[position].mean(0)
        expected = np.sqrt(np.einsum("ni,ij,nj->n", delta, np.linalg.inv(covariance), delta))
        np.testing.assert_allclose(distances[:, position], expected, rtol=2e-3)


def test_each_category_gets_its_own_gaussians_and_an_image_is_scored_by_the_one_that_fits_it() -> None:
    settings = PadimSettings(channels=CHANNELS)
    config = resolve_config(ModelConfig(method="padim", image_size=SIZE, layers=LAYERS, settings=settings))
    generator = torch.Generator().manual_seed(5)
    dark = torch.randint(0, 60, (12, 3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
    bright = torch.randint(190, 256, (12, 3, SIZE, SIZE), generator=generator, dtype=torch.uint8)
    torch.manual_seed(0)  # the same random backbone in all three models: the embeddings must be comparable
    unified = build_model(config, weights="random")
    run_to_end(get_method("padim").fit(unified, torch.cat([dark, bright]), config, CancelToken(),
                                       torch.tensor([0] * 12 + [1] * 12)))
    assert unified.mean.shape == (2, 16 * 16, CHANNELS) and unified.precision.shape == (2, 16 * 16, CHANNELS, CHANNELS)
    one_class = {}
    for name, images in (("dark", dark), ("bright", bright)):
        torch.manual_seed(0)
        one_class[name] = build_model(config, weights="random")
        run_to_end(get_method("padim").fit(one_class[name], images, config, CancelToken()))
    test_dark = torch.randint(0, 60, (2, 3, SIZE, SIZE), generator=generator).float()
    test_bright = torch.randint(190, 256, (2, 3, SIZE, SIZE), generator=generator).float()
    with torch.no_grad():
        for name, test in (("dark", test_dark), ("bright", test_bright)):
            embedding = unified.embed(test)
            torch.testing.assert_close(unified.mahalanobis(embedding), one_class[name].mahalanobis(embedding))
        # the other category's Gaussians would have scored it far higher: the choice is not a coin toss
        assert (one_class["bright"].mahalanobis(unified.embed(test_dark)).mean()
                > 2 * unified.mahalanobis(unified.embed(test_dark)).mean())
    assert unified.statistics_bytes == 2 * one_class["dark"].statistics_bytes


def test_a_model_saved_with_one_shared_gaussian_per_position_still_loads_and_scores(tmp_path) -> None:
    model, config, _ = fitted(seed=4)
    old = copy.deepcopy(model)
    old.mean, old.precision = model.mean[0], model.precision[0]  # the layout before categories: P x d, P x d x d
    directory = save_model(old, config, tmp_path / "model", categories=["x"], export_graph=False)
    loaded = load_model(directory).network
    assert loaded.mean.dim() == 2
    pixels = torch.rand(2, 3, SIZE, SIZE) * 255
    with torch.no_grad():
        assert torch.equal(loaded(pixels)[0], model(pixels)[0])


def test_image_score_is_the_maximum_of_the_smoothed_map() -> None:
    """Read on the smoothed grid (SmoothedMap): no upsampled value is higher, and the peak is barely rounded off."""
    model, _, _ = fitted()
    with torch.no_grad():
        scores, maps = model(torch.rand(3, 3, SIZE, SIZE) * 255)
    assert maps.shape == (3, 1, SIZE, SIZE)
    peaks = maps.flatten(1).max(dim=1).values
    assert torch.all(scores >= peaks) and torch.allclose(scores, peaks, rtol=0.05)


def test_channel_subset_is_fixed_by_the_seed() -> None:
    first, second, other = fitted(seed=0)[0], fitted(seed=0)[0], fitted(seed=1)[0]
    assert torch.equal(first.channel_index, second.channel_index)
    assert not torch.equal(first.channel_index, other.channel_index)
    assert len(first.channel_index.unique()) == CHANNELS and int(first.channel_index.max()) < 64


def test_statistics_survive_save_and_load_and_their_memory_is_reported(tmp_path) -> None:
    model, config, _ = fitted(seed=3)
    assert model.statistics_bytes == 16 * 16 * (CHANNELS + CHANNELS * CHANNELS) * 4
    directory = save_model(model, config, tmp_path / "model", categories=["x"], export_graph=False)
    loaded = load_model(directory).network
    for name in ("channel_index", "mean", "precision"):
        assert torch.equal(getattr(loaded, name), getattr(model, name))
    pixels = torch.rand(2, 3, SIZE, SIZE) * 255
    with torch.no_grad():
        assert torch.equal(loaded(pixels)[0], model(pixels)[0])


def test_more_channels_than_the_layers_have_is_refused() -> None:
    config = resolve_config(ModelConfig(method="padim", layers=LAYERS, settings=PadimSettings(channels=65)))
    with pytest.raises(InputError, match="channels 65: layers \\(2, 5\\) of tf_efficientnet_lite0 give only 64"):
        build_model(config, weights="random")


def test_another_image_size_than_fitted_is_refused() -> None:
    model, _, _ = fitted()
    with pytest.raises(ValueError, match="fitted on 256 patch positions; these images give 8 x 8"):
        model(torch.zeros(1, 3, 32, 32))


def test_graph_uses_plain_matrix_operations_that_tensorrt8_takes(tmp_path) -> None:
    model, _, _ = fitted(images=4)
    path = export_onnx(model, SIZE, tmp_path / "model.onnx")
    operators = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "MatMul" in operators and "Einsum" not in operators
    assert_tensorrt_compatible(path, "tensorrt8")
