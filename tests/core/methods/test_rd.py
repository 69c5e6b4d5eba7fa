"""Reverse Distillation: the decoder mirrors the encoder, the embedding is compact, the map is the paper's, the
encoder stays frozen, and the whole pipeline exports (TensorRT 8.5 operators) and quantizes by QAT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.onnx_export import export_onnx
from core.export.qat import qat_job
from core.export.trt_check import assert_tensorrt_compatible
from core.jobs import CancelToken, run_to_end
from core.methods.common.smoothed_map import to_grid
from core.methods.config import ModelConfig
from core.methods.rd.loss import reverse_distillation_loss
from core.methods.rd.settings import ReverseDistillationSettings
from core.methods.registry import build_model, get_method, resolve_config
from core.model_store import load_model, save_model
from core.runtime import open_runtime
from core.training import train_job

SIZE = 64
RD = get_method("rd")
BACKBONES = ["tf_efficientnet_lite0", "mobilenetv2_100"]


def rd_model(backbone: str = "tf_efficientnet_lite0", size: int = SIZE, **settings: int):
    config = resolve_config(ModelConfig(method="rd", backbone=backbone, image_size=size,
                                        settings=ReverseDistillationSettings(**settings)))
    return build_model(config, weights="random"), config


def pixels(count: int = 2, size: int = SIZE) -> torch.Tensor:
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(3)) * 255


@pytest.mark.parametrize("backbone", BACKBONES)
def test_decoder_mirrors_the_encoders_channels_and_strides(backbone) -> None:
    model, config = rd_model(backbone)
    model.eval()
    with torch.no_grad():
        encoder, decoder = model.features(pixels())
    assert list(encoder) == [f"layer{index}" for index in config.layers]
    for tap in model.taps:
        assert decoder[tap.key].shape == encoder[tap.key].shape
        assert encoder[tap.key].shape[1] == tap.channels and encoder[tap.key].shape[-1] * tap.stride == SIZE
    # equiv taps one stride-4, one stride-16 and one stride-32 layer on both backbones
    assert [tap.stride for tap in model.taps] == [4, 16, 32]
    # one stage and one linear head per tapped layer, deepest first, as the decoder runs
    assert [head.out_channels for head in model.decoder.heads] == [tap.channels for tap in reversed(model.taps)]


@pytest.mark.parametrize(("embedding_stride", "side"), [(2, 4), (1, 8)])
def test_the_embedding_is_compact_and_at_the_declared_stride(embedding_stride, side) -> None:
    model, _ = rd_model(size=256, embedding_stride=embedding_stride)
    model.eval()
    with torch.no_grad():
        features = model.encoder(pixels(1, 256))
        embedding = model.bottleneck(features)
    deepest = model.taps[-1]
    assert embedding.shape == (1, 2 * deepest.channels, side, side)
    assert embedding.numel() < sum(feature.numel() for feature in features.values()) / 4


def test_map_sizes_line_up_when_the_input_is_not_a_multiple_of_the_stride() -> None:
    model, _ = rd_model(size=100)
    model.eval()
    with torch.no_grad():
        encoder, decoder = model.features(pixels(1, 100))
        scores, maps = model(pixels(1, 100))
    assert all(decoder[key].shape == value.shape for key, value in encoder.items())
    assert encoder["layer3"].shape[-1] == 25 and maps.shape == (1, 1, 100, 100) and scores.shape == (1,)


def test_loss_and_map_are_one_minus_cosine_summed_over_scales() -> None:
    model, _ = rd_model()
    model.eval()
    inputs = pixels()
    with torch.no_grad():
        encoder, decoder = model.features(inputs)
        scores, maps = model(inputs)
    distances = {key: 1 - F.cosine_similarity(encoder[key], decoder[key], dim=1).unsqueeze(1) for key in encoder}
    expected_loss = sum(distance.mean() for distance in distances.values())
    torch.testing.assert_close(reverse_distillation_loss(encoder, decoder), expected_loss)
    grid = max(distance.shape[-2:] for distance in distances.values())
    expected_scores, expected_map = model.smooth(sum(to_grid(distance, grid) for distance in distances.values()),
                                                 (SIZE, SIZE))
    torch.testing.assert_close(maps, expected_map, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(scores, expected_scores)
    assert float(reverse_distillation_loss(encoder, encoder)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_training_moves_only_the_bottleneck_and_decoder_and_lowers_the_loss(backbone) -> None:
    model, config = rd_model(backbone, epochs=6, batch_size=4)
    frozen = {key: value.clone() for key, value in model.encoder.state_dict().items()}
    trained = {key: value.clone() for key, value in model.decoder.state_dict().items()}
    images = torch.randint(0, 255, (8, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    losses = [record.metrics["loss"] for record in RD.fit(model, images, config, CancelToken()) if record.stage == "train"]
    assert len(losses) == 12 and not model.training
    assert all(torch.equal(frozen[key], value) for key, value in model.encoder.state_dict().items())  # BN included
    assert any(not torch.equal(trained[key], value) for key, value in model.decoder.state_dict().items())
    assert np.mean(losses[-4:]) < 0.7 * np.mean(losses[:2])
    assert all(not parameter.requires_grad for parameter in model.encoder.parameters())


def test_save_and_load_give_the_same_maps(tmp_path) -> None:
    model, config = rd_model()
    run_to_end(RD.fit(model, torch.randint(0, 255, (4, 3, SIZE, SIZE), dtype=torch.uint8), config, CancelToken()))
    directory = save_model(model, config, tmp_path / "model", export_graph=False)
    loaded = load_model(directory)
    inputs = pixels()
    with torch.no_grad():
        torch.testing.assert_close(loaded.network(inputs), model(inputs))
    assert loaded.config.settings == config.settings


@pytest.mark.parametrize("backbone", BACKBONES)
def test_the_exported_pipeline_takes_tensorrt8_operators(backbone, tmp_path) -> None:
    model, _ = rd_model(backbone)
    path = export_onnx(model.eval(), SIZE, tmp_path / "rd.onnx")
    assert_tensorrt_compatible(path, "tensorrt8")


@pytest.fixture(scope="module")
def trained_rd(tmp_path_factory) -> tuple[Path, list[Path]]:
    from tests.conftest import make_mvtec_category

    root = tmp_path_factory.mktemp("rd")
    roots = [make_mvtec_category(root / "data", name, train=6, seed=seed) for name, seed in (("stripes", 1), ("waves", 2))]
    # Two early layers (both stride 4) keep the captured graph, its fine-tuning and its export quick.
    config = ModelConfig(method="rd", image_size=SIZE, layers=(2, 3),
                         settings=ReverseDistillationSettings(epochs=1, batch_size=4))
    return run_to_end(train_job(config, roots, root / "model", weights="random")).model_dir, roots


@pytest.mark.parametrize("flavour", ["cpu", "tensorrt"])
def test_qat_fine_tunes_bottleneck_and_decoder_into_an_int8_graph(trained_rd, flavour, tmp_path) -> None:
    model_dir, roots = trained_rd
    out = run_to_end(qat_job(model_dir, roots, tmp_path / f"qat-{flavour}.onnx", flavour=flavour, epochs=1))
    if flavour == "tensorrt":
        assert_tensorrt_compatible(out, "tensorrt8")
    images = (np.random.default_rng(0).random((3, SIZE, SIZE, 3)) * 255).astype(np.uint8)
    fp32_scores, fp32_maps = open_runtime(model_dir, "onnxruntime").predict(images)
    import onnxruntime

    from core.inference import to_pixels

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    scores, maps = session.run(None, {session.get_inputs()[0].name: to_pixels(images).float().numpy()})
    assert maps.shape == (3, 1, SIZE, SIZE)
    # Loose: fine-tuned as well as quantized; a wrong scale or a broken graph is far off both ways.
    np.testing.assert_allclose(scores, fp32_scores, rtol=0.5)
    assert np.corrcoef(maps.ravel(), fp32_maps.ravel())[0, 1] > 0.5
