"""Teach PatchCore a frame the operator marked good: the frame's patches that the bank does not already cover enter
the bank, without refitting.

Which patches: those farther from every memory entry than the bank's own spacing (the median distance from an entry
to its nearest other entry), picked greedily farthest-first (the coreset's own k-center rule, started from the bank
instead of from nothing) until every patch of the frame lies within that spacing of an entry. Not the coreset ratio
applied to the new patches, as fit does: a greedy coreset of 1 % of one frame's ~1,000 patches keeps the ~10 that
cover the frame best among themselves, blind to the bank, and may well skip the very patches that made the frame
NG. Covering to the bank's spacing is what fit's coreset gives the training images' patches (each lies about that
close to an entry), so after teaching the frame is as well covered as a training image: every patch score, and
hence the image score, is at most that spacing. A frame that is already covered adds nothing.

The entries' neighbourhoods (paper, Eq. 7) are recomputed for the whole bank, since new entries may be the nearest
neighbours of old ones.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

import torch
from torch import Tensor

from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.methods.patchcore.fit import EMBED_BATCH, embed_patches
from core.methods.patchcore.settings import PatchcoreSettings
from core.methods.patchcore.torch_model import PatchcoreModel

DISTANCE_CHUNK = 4096  # bank entries per distance block: patches x chunk floats at a time


def teach_memory_bank(
    model: PatchcoreModel, images: Tensor, categories: Tensor, images_per_category: Sequence[int] | None,
    config: ModelConfig, cancel: CancelToken,
) -> Generator[Progress, None, Tensor]:
    """Add the patches of `images` (N x 3 x S x S uint8) that the bank does not cover to `model`'s bank."""
    settings: PatchcoreSettings = config.settings
    model.eval()
    with torch.no_grad():
        patches = torch.cat([embed_patches(model, images[start : start + EMBED_BATCH])
                             for start in range(0, len(images), EMBED_BATCH)])
        cancel.raise_if_cancelled()
        yield Progress(1, 3, f"{len(patches)} patches embedded", stage="embed")
        bank = model.memory_bank
        radius = bank_spacing(model)
        picked = uncovered(bank, patches, radius)
        cancel.raise_if_cancelled()
        yield Progress(2, 3, f"{len(picked)} of {len(patches)} patches enter the bank of {len(bank)} "
                       f"(spacing {radius:.4g})", stage="bank")
        if len(picked):
            model.set_memory_bank(torch.cat([bank, patches[picked]]).contiguous(), settings.neighbours)
        yield Progress(3, 3, f"memory bank: {len(model.memory_bank)} entries", stage="bank")
    return categories


def bank_spacing(model: PatchcoreModel) -> float:
    """The median distance from a memory entry to its nearest other entry (from the stored neighbourhoods)."""
    bank = model.memory_bank
    if len(bank) < 2 or model.memory_neighbours.shape[1] < 2:
        return 0.0
    nearest = bank[model.memory_neighbours[:, 1]]
    return float((bank - nearest).pow(2).sum(1).sqrt().median())


def uncovered(bank: Tensor, patches: Tensor, radius: float) -> Tensor:
    """Indices of `patches` to add so that every patch lies within `radius` of the bank or of an added patch:
    greedy, farthest patch first."""
    distance = nearest_distance(bank, patches)
    picked: list[int] = []
    while len(patches) and float(distance.max()) > radius:
        index = int(distance.argmax())
        picked.append(index)
        distance = torch.minimum(distance, (patches - patches[index]).pow(2).sum(1).sqrt())
    return torch.tensor(picked, dtype=torch.long)


def nearest_distance(bank: Tensor, patches: Tensor) -> Tensor:
    """Each patch's distance to its nearest bank entry, in blocks of entries."""
    best = torch.full((len(patches),), float("inf"))
    squared = (patches * patches).sum(1)
    for start in range(0, len(bank), DISTANCE_CHUNK):
        block = bank[start : start + DISTANCE_CHUNK]
        distances = squared[:, None] - 2 * patches @ block.T + (block * block).sum(1)[None, :]
        best = torch.minimum(best, distances.amin(1))
    return best.clamp_min(0).sqrt()
