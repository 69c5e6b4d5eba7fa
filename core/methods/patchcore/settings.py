"""PatchCore's settings: how much of the patch set the coreset keeps, and the re-weighting neighbourhood."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class PatchcoreSettings(MethodSettings):
    coreset_ratio: float = setting(0.01, "share of the normal patches kept in the memory bank", minimum=0,
                                   maximum=1, above=True)
    neighbours: int = setting(9, "memory entries in the image score's re-weighting neighbourhood (paper, Eq. 7)",
                              minimum=1, maximum=1000)
