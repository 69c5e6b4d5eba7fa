"""The cells of a benchmark grid: every method x backbone x layer group x setting, named once.

Example:
    >>> spec = GridSpec(data=(Path("data/bottle"), Path("data/tile")), methods=("stfpm", "paste"),
    ...                 backbones=("tf_efficientnet_lite0",), layer_groups=("equiv",), settings=("unified",))
    >>> [cell.name for cell in cells(spec)]
    ['stfpm/tf_efficientnet_lite0/equiv/unified', 'paste/tf_efficientnet_lite0/equiv/unified']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.backbones.registry import get_backbone
from core.backbones.weights import PRETRAINED
from core.errors import InputError
from core.methods.registry import get_method

SETTINGS = ("unified", "per-category")
METHOD_DEFAULT = "default"  # a layer-group choice meaning each method's own default group


@dataclass(frozen=True)
class GridSpec:
    """What to run. `epochs` None: each method's own default. `weights` is the backbones' ("imagenet", "random"
    for tests, or a state-dict file)."""

    data: tuple[Path, ...]
    methods: tuple[str, ...]
    backbones: tuple[str, ...]
    layer_groups: tuple[str, ...]
    settings: tuple[str, ...]
    image_size: int = 256
    epochs: int | None = None
    weights: str = PRETRAINED


@dataclass(frozen=True)
class Cell:
    """One model of the grid: what trains it and on which category folders (unified: all; per-category: one)."""

    method: str
    backbone: str
    layer_group: str
    setting: str
    data: tuple[Path, ...]
    image_size: int = 256
    epochs: int | None = None
    weights: str = PRETRAINED

    @property
    def name(self) -> str:
        base = f"{self.method}/{self.backbone}/{self.layer_group}/{self.setting}"
        return base if self.setting == "unified" else f"{base}/{self.data[0].name}"

    @property
    def safe_name(self) -> str:
        """The name as one folder name (OUT/models/<safe name>)."""
        return self.name.replace("/", "__")

    @property
    def layers(self) -> tuple[int, ...]:
        return get_backbone(self.backbone).layers_for(self.layer_group)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "backbone": self.backbone, "layer_group": self.layer_group,
                "setting": self.setting, "data": [str(path) for path in self.data], "image_size": self.image_size,
                "epochs": self.epochs, "weights": str(self.weights)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Cell":
        return cls(method=data["method"], backbone=data["backbone"], layer_group=data["layer_group"],
                   setting=data["setting"], data=tuple(Path(path) for path in data["data"]),
                   image_size=int(data["image_size"]), epochs=data["epochs"], weights=data["weights"])


def cells(spec: GridSpec) -> list[Cell]:
    """Every cell of `spec`, in a stable order (method, backbone, layer group, setting, category); the group
    `default` stands for each method's own. InputError for an unknown method, backbone, layer group or setting,
    before anything runs."""
    if not spec.data:
        raise InputError("the benchmark needs at least one category folder (--data)")
    for setting in spec.settings:
        if setting not in SETTINGS:
            raise InputError(f"unknown setting '{setting}' (choose from {', '.join(SETTINGS)})")
    found = []
    for method in spec.methods:
        get_method(method)
        for backbone in spec.backbones:
            own = get_method(method).default_layer_group
            for group in dict.fromkeys(own if wanted == METHOD_DEFAULT else wanted for wanted in spec.layer_groups):
                get_backbone(backbone).layers_for(group)
                for setting in spec.settings:
                    groups = [tuple(spec.data)] if setting == "unified" else [(path,) for path in spec.data]
                    found += [Cell(method, backbone, group, setting, tuple(Path(path) for path in data),
                                   spec.image_size, spec.epochs, str(spec.weights)) for data in groups]
    return found
