"""What PatchCore's fit uses to embed faster: batch norms folded into convolutions, threads as parallel streams."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import Cancelled
from core.jobs import CancelToken, run_to_end
from core.methods.common.batch_norm_folding import fold_batch_norms
from core.methods.common.chunked_coreset import coreset_size
from core.methods.common.threaded import ordered_map, single_threaded_operators
from core.methods.config import ModelConfig
from core.methods.patchcore.fit import CHUNK_IMAGES, fit_memory_bank
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.torch_model import PatchcoreModel


def with_trained_statistics(model: nn.Module) -> nn.Module:
    """Random-weight networks have mean 0 / variance 1 batch norms, which fold trivially: give them real ones."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.weight.data.copy_(torch.rand(channels, generator=generator) + 0.5)
            module.bias.data.copy_(torch.randn(channels, generator=generator) * 0.1)
    return model


def test_folded_backbone_embeds_like_the_original_without_batch_norms() -> None:
    model = with_trained_statistics(PatchcoreModel("tf_efficientnet_lite0", layers=(5, 11), weights="random")).eval()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    folded = fold_batch_norms(model)
    pixels = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        expected, got = model.embed(pixels), folded.embed(pixels)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))
    assert not any(isinstance(module, nn.BatchNorm2d) for module in folded.modules())
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())  # original untouched


def test_a_batch_norm_listed_after_a_conv_it_does_not_follow_is_folded_wrongly_so_fit_must_check() -> None:
    # Registration order is not data flow here: the fold is wrong, which is why the fit compares embeddings.
    class Reordered(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)
            self.norm = nn.BatchNorm2d(3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(self.norm(x))

    model = with_trained_statistics(Reordered()).eval()
    pixels = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert not torch.allclose(fold_batch_norms(model)(pixels), model(pixels), atol=1e-3)


def test_ordered_map_keeps_order_bounds_work_ahead_and_raises_errors() -> None:
    started = []

    def square(value: int) -> int:
        started.append(value)
        if value == 7:
            raise ValueError("seven")
        return value * value

    results = ordered_map(square, range(10), workers=2, ahead=2)
    assert [next(results) for _ in range(3)] == [0, 1, 4]
    assert max(started) <= 2 + 3  # never more than `ahead` items beyond the one waited for
    with pytest.raises(ValueError, match="seven"):
        list(results)


def test_single_threaded_operators_restores_the_thread_count() -> None:
    threads = torch.get_num_threads()
    with single_threaded_operators() as workers:
        assert torch.get_num_threads() == 1 and workers == threads
    assert torch.get_num_threads() == threads


def test_patchcore_fit_keeps_the_requested_share_and_stops_when_cancelled() -> None:
    config = ModelConfig(method="patchcore", image_size=64, layers=(5, 11),
                         settings=PatchcoreSettings(coreset_ratio=0.05))
    model = PatchcoreModel("tf_efficientnet_lite0", layers=(5, 11), weights="random")
    images = torch.randint(0, 256, (CHUNK_IMAGES * 2 + 3, 3, 64, 64), dtype=torch.uint8)
    threads = torch.get_num_threads()
    token = CancelToken()
    job = fit_memory_bank(model, images, config, token)
    assert next(job).stage == "coreset"
    token.cancel()
    with pytest.raises(Cancelled):
        run_to_end(job)
    assert torch.get_num_threads() == threads and model.memory_bank.shape[0] == 0

    run_to_end(fit_memory_bank(model, images, config, CancelToken()))
    patches_per_image = (64 // 8) ** 2  # the finest tapped layer (5) has stride 8
    assert model.memory_bank.shape[0] == coreset_size(0.05, len(images) * patches_per_image)
