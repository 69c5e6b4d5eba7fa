"""Frozen parts' outputs computed once per image instead of once per image-epoch (`FrozenCache`)."""

from __future__ import annotations

import torch

from core.jobs import CancelToken, run_to_end
from core.methods.common import frozen_cache
from core.methods.common.frozen_cache import FrozenCache
from core.methods.config import ModelConfig
from core.methods.registry import build_model, get_method, resolve_config
from core.methods.stfpm.settings import StudentSettings

SIZE = 64


def _images(count: int) -> torch.Tensor:
    return torch.randint(0, 255, (count, 3, SIZE, SIZE), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def _paste(epochs: int = 2):
    config = resolve_config(ModelConfig(method="paste", image_size=SIZE,
                                        settings=StudentSettings(epochs=epochs, batch_size=3)))
    torch.manual_seed(0)
    return build_model(config, "random"), config


def _teacher_calls(model) -> list[int]:
    """Counts calls of the teacher's layer that every path through it runs (the shared prefix's first layer)."""
    calls = [0]
    model.teacher.layers[0].register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_training_with_the_cache_runs_the_teacher_once_per_image_and_learns_the_same_student(monkeypatch) -> None:
    cached, config = _paste()
    calls = _teacher_calls(cached)
    records = []
    run_to_end(get_method("paste").fit(cached, _images(6), config, CancelToken()), records.append)
    assert calls[0] == 1  # 6 images in one cache batch; 2 epochs x 2 steps would be 4 calls without it
    assert [record.stage for record in records].count("cache") == 1

    monkeypatch.setattr(frozen_cache, "MEMORY_SHARE", 0.0)  # nothing fits: every step runs the teacher again
    uncached, _ = _paste()
    calls = _teacher_calls(uncached)
    run_to_end(get_method("paste").fit(uncached, _images(6), config, CancelToken()))
    assert calls[0] == 1 + 4  # the first batch, to judge the size, then every step
    for mine, theirs in zip(cached.student.parameters(), uncached.student.parameters()):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


def test_take_rebuilds_dicts_tensors_and_absent_items_for_the_chosen_images() -> None:
    def frozen(pixels: torch.Tensor):
        return {"a": pixels[:, :1], "b": pixels[:, 1:]}, None, pixels.mean((1, 2, 3))

    images = _images(20)  # more than one cache batch
    cache = run_to_end(FrozenCache.build(frozen, images, CancelToken()))
    parts, absent, means = cache.take(torch.tensor([17, 2]))
    assert absent is None and set(parts) == {"a", "b"}
    torch.testing.assert_close(parts["a"], images[[17, 2], :1].float())
    torch.testing.assert_close(means, images[[17, 2]].float().mean((1, 2, 3)))
    assert cache.nbytes == 20 * (3 * SIZE * SIZE + 1) * 4
    assert run_to_end(FrozenCache.build(frozen, images, CancelToken(), memory_share=0.0)) is None
