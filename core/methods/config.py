"""What defines a model: method, backbone, layers, input size and the method's training settings.

It is saved in the model directory's manifest and is all that is needed to rebuild the network before its weights
are loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from core.backbones.registry import DEFAULT_BACKBONE, get_backbone


@dataclass(frozen=True)
class ModelConfig:
    """Settings of one model. `layers` is filled in from `layer_group` by `resolved()`."""

    method: str
    backbone: str = DEFAULT_BACKBONE
    layer_group: str = ""
    layers: tuple[int, ...] = ()
    image_size: int = 256
    epochs: int = 0
    batch_size: int = 8
    learning_rate: float = 0.4
    seed: int = 0
    coreset_ratio: float = 0.01
    neighbours: int = 9

    def resolved(self, default_group: str, default_epochs: int) -> "ModelConfig":
        group = self.layer_group or default_group
        layers = self.layers or get_backbone(self.backbone).layers_for(group)
        return replace(self, layer_group=group, layers=tuple(layers), epochs=self.epochs or default_epochs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["layers"] = list(self.layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {field.name for field in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["layers"] = tuple(values.get("layers", ()))
        return cls(**values)
