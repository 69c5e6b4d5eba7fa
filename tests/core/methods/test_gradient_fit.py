"""The one training loop of the methods that learn by gradient descent (STFPM, PaSTe, RD, US, CFA)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.errors import Cancelled
from core.jobs import CancelToken, run_to_end
from core.methods.common.gradient_fit import fit_by_gradient


def _images(count: int) -> torch.Tensor:
    """Image i is filled with the value i, so a batch tells which images it holds."""
    return torch.arange(count, dtype=torch.uint8).view(count, 1, 1, 1).expand(count, 3, 2, 2).contiguous()


def _run(images: torch.Tensor, epochs: int, batch_size: int, seed: int, cancel: CancelToken | None = None):
    model = nn.Linear(1, 1)
    seen: list[list[int]] = []

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        assert batch.dtype == torch.float32 and model.training
        seen.append(batch[:, 0, 0, 0].int().tolist())
        return model(batch[:, :1, 0, 0]).pow(2).mean()

    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    records = []
    run_to_end(fit_by_gradient(model, optimiser, images, batch_loss, epochs, batch_size, seed,
                               cancel or CancelToken()), records.append)
    return model, seen, records


def test_each_epoch_is_a_seeded_shuffle_of_every_image_and_the_model_ends_in_eval() -> None:
    model, first, records = _run(_images(10), epochs=2, batch_size=4, seed=3)
    _, again, _ = _run(_images(10), epochs=2, batch_size=4, seed=3)
    assert first == again and first[0] != first[3]
    for epoch in (slice(0, 3), slice(3, 6)):
        assert sorted(value for batch in first[epoch] for value in batch) == list(range(10))
    assert not model.training
    assert [record.step for record in records] == list(range(1, 7)) and records[-1].total == 6
    assert all("loss" in record.metrics for record in records)


def test_a_lone_last_image_is_skipped_unless_it_is_all_there_is() -> None:
    _, seen, _ = _run(_images(9), epochs=1, batch_size=4, seed=0)
    assert [len(batch) for batch in seen] == [4, 4]
    _, seen, _ = _run(_images(1), epochs=1, batch_size=4, seed=0)
    assert seen == [[0]]


def test_cancel_stops_between_steps() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        _run(_images(8), epochs=3, batch_size=4, seed=0, cancel=token)


def _rates(final_lr_fraction: float) -> list[float]:
    """The learning rate each step of a 3-epoch, 6-step run used."""
    model = nn.Linear(1, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.4)
    rates = []

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        rates.append(optimiser.param_groups[0]["lr"])
        return model(batch[:, :1, 0, 0]).pow(2).mean()

    run_to_end(fit_by_gradient(model, optimiser, _images(8), batch_loss, 3, 4, 0, CancelToken(),
                               final_lr_fraction=final_lr_fraction))
    return rates


def test_a_cosine_schedule_runs_from_the_start_rate_down_to_its_fraction_at_the_last_step() -> None:
    rates = _rates(0.1)
    assert len(rates) == 6 and rates[0] == pytest.approx(0.4) and rates[-1] == pytest.approx(0.04)
    assert all(later < earlier for earlier, later in zip(rates, rates[1:]))
    assert _rates(1.0) == [0.4] * 6  # the default: constant
