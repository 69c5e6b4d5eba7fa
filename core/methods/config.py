"""What defines a model: method, backbone, layers, input size, seed and the method's own settings.

It is saved in the model directory's manifest and is all that is needed to rebuild the network before its weights
are loaded. The settings are the method's `MethodSettings` dataclass (see `core.methods.settings`); which class that
is only the registry knows, so reading a saved config back is `core.methods.registry.config_from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.backbones.registry import DEFAULT_BACKBONE, get_backbone
from core.methods.settings import MethodSettings


@dataclass(frozen=True)
class ModelConfig:
    """Settings of one model. `layers` is filled in from `layer_group`, and `settings` with the method's defaults,
    by `core.methods.registry.resolve_config`.

    Example:
        >>> ModelConfig(method="stfpm", image_size=128, settings=StudentSettings(epochs=10))
    """

    method: str
    backbone: str = DEFAULT_BACKBONE
    layer_group: str = ""
    layers: tuple[int, ...] = ()
    image_size: int = 256
    seed: int = 0
    settings: MethodSettings | None = None

    def with_layers(self, default_group: str) -> "ModelConfig":
        group = self.layer_group or default_group
        layers = self.layers or get_backbone(self.backbone).layers_for(group)
        return replace(self, layer_group=group, layers=tuple(layers))

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "backbone": self.backbone, "layer_group": self.layer_group,
                "layers": list(self.layers), "image_size": self.image_size, "seed": self.seed,
                "settings": self.settings.to_dict() if self.settings else {}}
