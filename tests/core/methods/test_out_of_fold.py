"""Out-of-fold scores: folds dealt per category, PaDiM's subtracted fold Gaussians equal refitting without the fold,
PatchCore's fold banks never hold the scored image's own patches, and which methods default to them."""

from __future__ import annotations

import copy
import dataclasses
import time

import torch

from core.jobs import CancelToken, run_to_end
from core.methods.common.folds import assign_folds
from core.methods.common.threaded import single_threaded_operators
from core.methods.config import ModelConfig
from core.methods.out_of_fold import fit_out_of_fold
from core.methods.padim.settings import PadimSettings
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.registry import build_model, get_method, resolve_config
from core.training import default_threshold_folds

SIZE = 64


def test_folds_are_dealt_in_turn_within_each_category() -> None:
    categories = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1])
    assert assign_folds(categories, 3).tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert assign_folds(None, 2, count=5).tolist() == [0, 1, 0, 1, 0]


def _textures(count: int, seed: int) -> torch.Tensor:
    """Striped uint8 images, N x 3 x S x S, each with its own phase and noise."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.arange(SIZE, dtype=torch.float32)
    phase = torch.rand(count, 1, 1, 1, generator=generator) * 6.28
    stripes = 128 + 60 * torch.sin(x / 3.0 + phase) + 6 * torch.randn(count, 3, SIZE, SIZE, generator=generator)
    return stripes.clamp(0, 255).to(torch.uint8)


def test_padim_fold_gaussians_by_subtraction_equal_fitting_without_the_fold() -> None:
    """The hook (totals minus the fold's sums) against the generic path (one real fit per fold, on the rest). The
    categories differ plainly (the second is dark), so that each image is scored by its own category's Gaussians
    in both: the generic fold model also drops the fold's images of the OTHER categories, the hook does not."""
    settings = PadimSettings(channels=16)
    config = resolve_config(ModelConfig(method="padim", image_size=SIZE, layers=(2, 5), settings=settings))
    images = torch.cat([_textures(8, seed=1), _textures(7, seed=2) // 4])
    categories = torch.tensor([0] * 8 + [1] * 7)
    spec = get_method("padim")
    torch.manual_seed(0)  # the random backbone
    template = build_model(config, weights="random")
    build = lambda: copy.deepcopy(template)  # noqa: E731 - the same random weights every call
    hooked_model = build()
    with single_threaded_operators():  # tiny tensors: OpenMP barriers cost more than they save on a shared machine
        hooked = run_to_end(fit_out_of_fold(spec, config, hooked_model, build, images, categories, 3, CancelToken()))
        refitted = run_to_end(fit_out_of_fold(dataclasses.replace(spec, fit_out_of_fold=None), config, build(),
                                              build, images, categories, 3, CancelToken()))
    # Subtracting sums loses a little float32 precision, which the inverse covariances (7 images, 16 channels: near
    # singular, shrinkage aside) amplify at a few positions; since maps are smoothed on the feature grid rather than
    # blurred at full resolution, those positions are no longer averaged away: up to 2.4 % there, 0.6 % on scores.
    torch.testing.assert_close(hooked[0], refitted[0], rtol=1e-2, atol=1e-4)
    torch.testing.assert_close(hooked[1], refitted[1], rtol=3e-2, atol=1e-3)
    # The model itself is fitted on every image: its in-sample scores are below the out-of-fold ones.
    with torch.no_grad():
        in_sample = hooked_model.eval()(images.float())[0]
    assert (in_sample < hooked[0]).float().mean() > 0.9


def test_patchcore_scores_each_image_against_a_bank_without_its_own_patches() -> None:
    """With every patch kept (ratio 1), the full bank holds each training image's patches, so its in-sample scores
    are ~0; out of fold they are not, and the one image unlike the others scores highest."""
    config = resolve_config(ModelConfig(method="patchcore", image_size=SIZE, layers=(2, 5),
                                        settings=PatchcoreSettings(coreset_ratio=1.0)))
    torch.manual_seed(0)  # the random backbone
    images = _textures(10, seed=3)
    images[4] = images[4] // 4  # the odd one out: dark
    model = build_model(config, weights="random")
    started = time.perf_counter()
    scores, maps = run_to_end(fit_out_of_fold(get_method("patchcore"), config, model,
                                              lambda: build_model(config, weights="random"), images, None, 5))
    with torch.no_grad():
        in_sample = model.eval()(images.float())[0]
    assert float(in_sample.max()) < 0.05 * float(scores.min())
    assert int(scores.argmax()) == 4 and maps.shape == (10, SIZE, SIZE)
    assert time.perf_counter() - started < 20


def test_memory_banks_default_to_out_of_fold_and_trained_methods_to_the_held_out_split() -> None:
    assert default_threshold_folds(get_method("patchcore")) == default_threshold_folds(get_method("padim")) == 10
    assert {default_threshold_folds(get_method(name)) for name in ("stfpm", "paste", "rd", "us", "cfa")} == {0}
