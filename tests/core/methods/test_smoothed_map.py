"""The map's last step: blur on the feature grid and upsample once, against blurring at full resolution."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from core.methods.common.blur import GaussianBlur
from core.methods.common.smoothed_map import SmoothedMap, to_grid


def _full_resolution_reference(grid_map: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """What every method did before: upsample to the input's size, then blur there."""
    return GaussianBlur(sigma)(F.interpolate(grid_map, size=(size, size), mode="bilinear", align_corners=False))


def test_the_grid_blur_gives_nearly_the_full_resolution_map_and_its_maximum() -> None:
    generator = torch.Generator().manual_seed(0)
    grid_map = torch.rand(3, 1, 64, 64, generator=generator)
    grid_map[0, 0, 30:34, 10:12] += 4.0  # a small defect: the case where the smoothing matters
    scores, maps = SmoothedMap(sigma=4.0, stride=4)(grid_map, (256, 256))
    reference = _full_resolution_reference(grid_map, 256, 4.0)
    assert maps.shape == reference.shape
    # Same map up to a small fraction of its range, and the defect's peak at the same place
    assert float((maps - reference).abs().max()) < 0.05 * float(reference.max() - reference.min())
    assert maps[0, 0].argmax() // 256 in range(120, 136) and reference[0, 0].argmax() // 256 in range(120, 136)
    # The score is the smoothed grid's maximum: never below the upsampled map's and within 3 % of the old
    # score (on noise, whose maximum is itself noise; real maps are smoother)
    assert torch.all(scores >= maps.flatten(1).amax(1) - 1e-6)
    torch.testing.assert_close(scores, reference.flatten(1).amax(1), rtol=0.03, atol=0.0)


def test_maps_on_coarser_grids_are_resized_onto_the_finest_and_tiny_grids_still_blur() -> None:
    coarse = torch.arange(16.0).view(1, 1, 4, 4)
    assert to_grid(coarse, (4, 4)) is coarse
    assert to_grid(coarse, torch.Size([16, 16])).shape == (1, 1, 16, 16)
    # A 2 x 2 grid is narrower than the blur's radius at stride 1: the edge is repeated instead of reflected
    scores, maps = SmoothedMap(sigma=4.0, stride=1)(torch.ones(2, 1, 2, 2), (8, 8))
    torch.testing.assert_close(maps, torch.ones(2, 1, 8, 8))
    torch.testing.assert_close(scores, torch.ones(2))
