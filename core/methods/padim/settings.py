"""PaDiM's settings: how many random channels the Gaussians see, and the covariance regularisation."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class PadimSettings(MethodSettings):
    # 100 is the paper's choice for ResNet18 (100 of 448 channels). EfficientNet-Lite0's default taps give 152
    # channels; 100 keeps two thirds of them, and the statistics grow with channels^2 (41 MB at 256 px).
    channels: int = setting(100, "random subset of the tapped channels modelled per patch (paper: 100 for ResNet18)",
                            minimum=1, maximum=4096)
    covariance_regularisation: float = setting(0.01, "added to the covariance's diagonal before inverting "
                                               "(paper: 0.01)", minimum=0, maximum=1000, above=True)
