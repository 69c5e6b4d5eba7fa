"""CFA: the score against a brute-force reference, the memory bank, the loss, CoordConv, save/load, export, QAT."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import InputError
from core.onnx_export import export_onnx
from core.export.qat import qat_job
from core.export.trt_check import assert_tensorrt_compatible
from core.jobs import CancelToken, run_to_end
from core.methods.cfa.descriptor import CoordConvDescriptor
from core.methods.cfa.fit import fit_cfa, initial_memory_bank
from core.methods.cfa.loss import NU, coupled_hypersphere_loss
from core.methods.cfa.settings import CfaSettings
from core.methods.config import ModelConfig
from core.methods.registry import build_model, resolve_config
from core.model_store import load_model, save_model
from core.training import train_job

SIZE = 64
LAYERS = (2, 3)  # stride 4 and 8 early in Lite0: a 16 x 16 patch grid at 64 px, quick


def make_model(**settings: float) -> torch.nn.Module:
    config = resolve_config(ModelConfig(method="cfa", image_size=SIZE, layers=LAYERS, settings=CfaSettings(**settings)))
    torch.manual_seed(0)
    return build_model(config, weights="random"), config


def images(count: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (count, 3, SIZE, SIZE), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


def test_scores_match_a_brute_force_softmin_over_the_k_nearest_entries() -> None:
    model, _ = make_model(neighbours=3, hard_negatives=2)
    model.set_memory_bank(torch.randn(300, model.descriptor_dim))
    model.eval()
    pixels = images(2).float()
    with torch.no_grad():
        scores, maps = model(pixels)
        features = model.target_features(pixels)  # N x C x 16 x 16
    assert scores.shape == (2,) and maps.shape == (2, 1, SIZE, SIZE)

    patches = features.flatten(2).transpose(1, 2)
    distances = torch.cdist(patches, model.memory_bank[None].expand(2, -1, -1)).sort(dim=-1).values[..., :3]
    weights = torch.exp(-distances) / torch.exp(-distances).sum(-1, keepdim=True)
    reference = (weights[..., 0] * distances[..., 0]).reshape(2, 1, 16, 16)
    reference_scores, reference = model.smooth(reference, (SIZE, SIZE))
    torch.testing.assert_close(maps, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(scores, reference_scores)


def test_memory_bank_is_the_per_position_mean_of_the_descriptor_features() -> None:
    model, config = make_model()
    data = images(5)
    bank = run_to_end(initial_memory_bank(model, data, CancelToken()))
    with torch.no_grad():
        expected = model.target_features(data.float()).mean(0).flatten(1).T
    assert bank.shape == (16 * 16, model.descriptor_dim)
    torch.testing.assert_close(bank, expected, rtol=1e-5, atol=1e-5)


def test_gamma_c_compresses_the_bank_by_k_means_and_gamma_d_the_channels() -> None:
    model, config = make_model(epochs=1, batch_size=4, gamma_c=4, gamma_d=2)
    backbone_channels = model.descriptor.conv.in_channels - 2  # less the two coordinate channels
    assert model.descriptor_dim == backbone_channels // 2 and model.descriptor.conv.out_channels == backbone_channels // 2
    run_to_end(fit_cfa(model, images(4), config, CancelToken()))
    assert model.memory_bank.shape == (16 * 16 // 4, model.descriptor_dim)


def test_loss_attracts_the_k_nearest_and_repels_the_hard_negatives() -> None:
    nearest = torch.tensor([[[0.5, 0.7, 2.0, 2.05]]])  # squared distances, ascending; K = 2, J = 2
    radius, margin = 1.0, 0.1
    attraction, repulsion = nearest[..., :2] - radius**2, radius**2 - nearest[..., 2:] - margin
    assert coupled_hypersphere_loss(attraction, repulsion) == 0  # inside r, hard negatives beyond r^2 + alpha
    nearest = torch.tensor([[[1.5, 0.7, 0.8, 3.0]]])  # one entry outside r, one hard negative within r^2 + alpha
    attraction, repulsion = nearest[..., :2] - radius**2, radius**2 - nearest[..., 2:] - margin
    expected = (0.5 + 0.0) / 2 + (radius**2 - 0.8 - margin + 0.0) / 2
    assert coupled_hypersphere_loss(attraction, repulsion) == pytest.approx(expected / NU)
    assert coupled_hypersphere_loss(attraction, repulsion[..., :0]) == pytest.approx(0.25 / NU)  # J = 0


def test_hypersphere_terms_are_the_losss_hinge_arguments() -> None:
    model, _ = make_model(neighbours=2, hard_negatives=3, radius=0.5, margin=0.2)
    model.set_memory_bank(torch.randn(100, model.descriptor_dim))
    pixels = images(1).float()
    attraction, repulsion = model.hypersphere_terms(pixels)
    with torch.no_grad():
        patches = model.target_features(pixels).flatten(2).transpose(1, 2)
    squared = torch.cdist(patches, model.memory_bank[None]).pow(2).sort(dim=-1).values
    torch.testing.assert_close(attraction.detach(), squared[..., :2] - 0.25, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(repulsion.detach(), 0.25 - squared[..., 2:5] - 0.2, rtol=1e-4, atol=1e-3)


def test_training_lowers_the_loss_and_changes_only_the_descriptor() -> None:
    model, config = make_model(epochs=4, batch_size=4)
    frozen = {key: value.clone() for key, value in model.extractor.state_dict().items()}
    losses = [record.metrics["loss"] for record in _records(fit_cfa(model, images(8), config, CancelToken()))
              if record.stage == "train"]
    assert len(losses) == 8
    assert np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2])  # random pixels: the descriptor has little to learn
    for key, value in model.extractor.state_dict().items():
        torch.testing.assert_close(value, frozen[key])  # batch norm statistics included


def _records(generator):  # noqa: ANN001, ANN202 - a job generator
    records = []
    run_to_end(generator, records.append)
    return records


def test_coordconv_makes_identical_features_differ_by_position() -> None:
    torch.manual_seed(0)
    descriptor = CoordConvDescriptor(4, 3)
    out = descriptor(torch.ones(2, 4, 5, 7))
    assert out.shape == (2, 3, 5, 7)
    assert not torch.allclose(out[..., 0, 0], out[..., 4, 6])
    torch.testing.assert_close(out[0], out[1])


def test_a_bank_smaller_than_k_plus_j_is_refused() -> None:
    model, _ = make_model(neighbours=3, hard_negatives=3)
    with pytest.raises(InputError, match="memory bank of 5 entries: K \\+ J = 6"):
        model.set_memory_bank(torch.randn(5, model.descriptor_dim))


def test_bank_and_descriptor_survive_save_and_load(tmp_path) -> None:
    model, config = make_model(epochs=1, batch_size=4, gamma_c=2)
    run_to_end(fit_cfa(model, images(4), config, CancelToken()))
    save_model(model, config, tmp_path / "model", categories=["x"], export_graph=False)
    loaded = load_model(tmp_path / "model").network
    assert loaded.memory_bank.shape == (128, model.descriptor_dim)
    torch.testing.assert_close(loaded.memory_bank, model.memory_bank)
    pixels = images(2, seed=3).float()
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixels), model.eval()(pixels))


def test_export_uses_a_constant_k_top_k_that_tensorrt_8_5_takes(tmp_path) -> None:
    model, _ = make_model()
    model.set_memory_bank(torch.randn(64, model.descriptor_dim))
    path = export_onnx(model.eval(), SIZE, tmp_path / "cfa.onnx")
    assert_tensorrt_compatible(path, "tensorrt8")


def test_qat_fine_tunes_the_descriptor_through_the_captured_graph(tiny_categories, tmp_path) -> None:
    config = ModelConfig(method="cfa", image_size=SIZE, layers=LAYERS, settings=CfaSettings(epochs=1, batch_size=4))
    model_dir = run_to_end(train_job(config, tiny_categories, tmp_path / "model", weights="random")).model_dir
    out = tmp_path / "qat.onnx"
    records = []
    assert run_to_end(qat_job(model_dir, tiny_categories, out, flavour="tensorrt", epochs=1, batch_size=8),
                      records.append) == out
    losses = [record.metrics["loss"] for record in records if record.stage == "qat"]
    assert losses and all(np.isfinite(losses))
    assert_tensorrt_compatible(out, "tensorrt8")
