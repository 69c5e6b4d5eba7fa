"""Uninformed Students: what makes the method itself (the contract test covers fit, export and runtimes)."""

from __future__ import annotations

import pytest
import torch

from core.errors import InputError
from core.jobs import CancelToken, run_to_end
from core.methods.common.smoothed_map import to_grid
from core.methods.config import ModelConfig
from core.methods.registry import build_model, get_method, resolve_config
from core.methods.us.loss import regression_loss
from core.methods.us.settings import UninformedStudentsSettings
from core.model_manifest import Thresholds
from core.model_store import load_model, save_model

SIZE = 64


def tiny_config(**settings: float) -> ModelConfig:
    return resolve_config(ModelConfig(method="us", image_size=SIZE, settings=UninformedStudentsSettings(**settings)))


@pytest.fixture(scope="module")
def fitted():
    """A tiny model fitted for one epoch, its untouched copy and its training images."""
    torch.manual_seed(0)
    config = tiny_config(epochs=1, batch_size=4)
    model = build_model(config, weights="random")
    untouched = {key: value.clone() for key, value in model.state_dict().items()}
    images = torch.randint(0, 255, (8, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    run_to_end(get_method("us").fit(model, images, config, CancelToken()))
    return model, untouched, images, config


def test_each_student_is_a_network_of_its_own() -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(students=4), weights="random")
    assert len(model.students) == 4
    first = [parameter for parameter in model.students[0].parameters() if parameter.dim() == 4]
    second = [parameter for parameter in model.students[1].parameters() if parameter.dim() == 4]
    assert first and all(a.data_ptr() != b.data_ptr() and not torch.equal(a, b) for a, b in zip(first, second))


def test_an_ensemble_of_one_is_refused() -> None:
    with pytest.raises(InputError, match="students 1: must be at least 2"):
        UninformedStudentsSettings(students=1)


def test_fit_trains_the_students_and_leaves_the_teacher_alone(fitted) -> None:
    model, untouched, _, _ = fitted
    state = model.state_dict()
    teacher = [key for key in state if key.startswith("teacher.")]
    students = [key for key in state if key.startswith("students.") and state[key].is_floating_point()]
    assert teacher and all(torch.equal(state[key], untouched[key]) for key in teacher)  # batch-norm statistics too
    assert any(not torch.equal(state[key], untouched[key]) for key in students)


def test_fit_standardises_descriptors_error_and_variance_on_the_training_images(fitted) -> None:
    model, _, images, _ = fitted
    with torch.no_grad():
        targets, predictions = model.regress(images.float())
        terms = model.error_and_variance(targets, predictions)
    for target in targets.values():  # per channel over images and positions: mean 0, std 1
        channels = target.transpose(0, 1).flatten(1)
        torch.testing.assert_close(channels.mean(1), torch.zeros(len(channels)), atol=1e-3, rtol=0)
        torch.testing.assert_close(channels.std(1, unbiased=False), torch.ones(len(channels)), atol=1e-3, rtol=1e-3)
    for stats, (error, variance) in zip(model.score_stats, terms):
        for value, mean, std in ((error, stats[0], stats[1]), (variance, stats[2], stats[3])):
            standardised = (value - mean) / std
            assert abs(float(standardised.mean())) < 1e-3
            assert abs(float(standardised.std(unbiased=False)) - 1) < 1e-3


def test_map_is_standardised_error_plus_variance_averaged_over_scales(fitted) -> None:
    """Against Bergmann et al.'s own spelling of the variance: mean of squared norms minus squared norm of the mean."""
    model, _, images, _ = fitted
    pixels = images[:3].float()
    with torch.no_grad():
        scores, maps = model(pixels)
        targets, predictions = model.regress(pixels)
        grid = max(value.shape[-2:] for value in targets.values())
        expected = 0
        for stats, key in zip(model.score_stats, targets):
            outputs = [prediction[key] for prediction in predictions]
            mean = sum(outputs) / len(outputs)
            error = (mean - targets[key]).pow(2).sum(1, keepdim=True)
            variance = sum(output.pow(2).sum(1, keepdim=True) for output in outputs) / len(outputs) \
                - mean.pow(2).sum(1, keepdim=True)
            term = (error - stats[0]) / stats[1] + (variance - stats[2]) / stats[3]
            expected = expected + to_grid(term, grid)
        expected_scores, expected = model.smooth(expected / len(targets), (SIZE, SIZE))
    assert maps.shape == (3, 1, SIZE, SIZE) and scores.shape == (3,)
    torch.testing.assert_close(maps, expected, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(scores, expected_scores, atol=1e-3, rtol=1e-3)


def test_loss_is_each_students_squared_error_summed() -> None:
    targets = {"layer3": torch.randn(2, 4, 5, 5), "layer9": torch.randn(2, 6, 3, 3)}
    assert float(regression_loss(targets, [targets, targets])) == 0
    shifted = {key: value + 0.5 for key, value in targets.items()}
    # each student x each scale contributes 0.25; one exact student contributes nothing
    assert float(regression_loss(targets, [shifted, shifted, targets])) == pytest.approx(2 * 2 * 0.25)


def test_fitted_statistics_survive_save_and_load(fitted, tmp_path) -> None:
    model, _, images, config = fitted
    directory = save_model(model, config, tmp_path / "model", categories=["x"], thresholds=Thresholds(image=1.0),
                           export_graph=False)
    loaded = load_model(directory).network
    assert not torch.equal(loaded.score_stats, torch.tensor([[0.0, 1.0, 0.0, 1.0]]).repeat(3, 1))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    with torch.no_grad():
        torch.testing.assert_close(loaded(images[:2].float()), model(images[:2].float()))
