"""The shared mini-batch schedule of the methods that train."""

from __future__ import annotations

import torch

from core.methods.common.epochs import training_batches, training_steps


def test_each_epoch_is_a_seeded_shuffle_of_every_image() -> None:
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 3, 2, 2).contiguous()
    first = [(epoch, batch[:, 0, 0, 0].tolist()) for epoch, batch in training_batches(images, 2, 4, seed=3)]
    again = [(epoch, batch[:, 0, 0, 0].tolist()) for epoch, batch in training_batches(images, 2, 4, seed=3)]
    assert first == again and first[0][1] != first[3][1]
    for epoch in (0, 1):
        seen = [value for index, values in first if index == epoch for value in values]
        assert sorted(seen) == [float(value) for value in range(10)]
    assert all(batch.dtype == torch.float32 for _, batch in training_batches(images, 1, 4, seed=0))


def test_a_lone_last_image_is_skipped_but_counted() -> None:
    images = torch.zeros(9, 3, 2, 2, dtype=torch.uint8)
    sizes = [len(batch) for _, batch in training_batches(images, 1, 4, seed=0)]
    assert sizes == [4, 4]
    assert training_steps(9, epochs=3, batch_size=4) == 9
    assert [len(batch) for _, batch in training_batches(images[:1], 1, 4, seed=0)] == [1]  # one image is all there is
