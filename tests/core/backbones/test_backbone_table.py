"""Every registered backbone, random-initialised: its layer groups, feature shapes, parameters, MACs and memory.

These figures need no weights, so they hold for backbones whose weights the user must bring (PhiNet, MCUNet) too. The
expected figures are for the `equiv` group's extractor (the backbone cut after its last equiv layer, with its input
normalisation) on a 64 px image; at 256 px MACs are 16 times as many.
"""

from __future__ import annotations

import pytest
import torch

from core.backbones.extractor import FeatureExtractor
from core.backbones.layers import flatten_layers
from core.backbones.registry import BACKBONES, LAYER_GROUPS
from core.backbones.weights import create_network
from core.profiling import count_macs, footprint_mb

SIZE = 64
# name: (equiv channels, equiv strides, extractor parameters, MACs at 64 px, footprint MB)
EQUIV_FIGURES = {
    "tf_efficientnet_lite0": ((24, 112, 192), (4, 16, 32), 1_877_248, 25_415_552, 7.27),
    "tf_efficientnet_lite1": ((24, 80, 192), (4, 16, 32), 2_165_760, 33_104_768, 8.40),
    "tf_efficientnet_lite2": ((24, 88, 208), (4, 16, 32), 2_530_592, 37_911_872, 9.80),
    "mobilenetv2_100": ((24, 64, 160), (4, 16, 32), 697_792, 18_405_632, 2.73),
    "resnet18": ((64, 128, 256), (4, 8, 16), 2_782_784, 114_491_392, 10.63),
    "wide_resnet50_2": ((256, 512, 1024), (4, 8, 16), 24_862_528, 749_928_448, 94.99),
    "phinet_7_1.2_0.5_6": ((28, 57, 115), (2, 8, 16), 164_420, 15_423_032, 0.64),
    "mcunet_in3": ((16, 24, 96), (4, 8, 32), 231_064, 9_155_456, 0.92),
}


def test_every_registered_backbone_has_its_figures_here() -> None:
    assert set(EQUIV_FIGURES) == set(BACKBONES)


@pytest.fixture(scope="module", params=sorted(BACKBONES))
def layer_outputs(request) -> tuple[str, list[tuple[int, int]]]:
    """(name, [(channels, stride) of each flat layer's output on a 64 px image])."""
    torch.manual_seed(0)
    layers = flatten_layers(create_network(request.param, "random").eval())
    x = torch.zeros(1, 3, SIZE, SIZE)
    shapes = []
    with torch.no_grad():
        for layer in layers:
            x = layer(x)
            shapes.append((x.shape[1], SIZE // x.shape[-1]))
    return request.param, shapes


def test_groups_tap_existing_layers_with_strides_that_never_shrink(layer_outputs) -> None:
    name, shapes = layer_outputs
    spec = BACKBONES[name]
    assert tuple(spec.groups) == LAYER_GROUPS
    for group, taps in spec.groups.items():
        assert list(taps) == sorted(set(taps)) and taps[-1] < len(shapes), (group, taps, len(shapes))
        strides = [shapes[tap][1] for tap in taps]
        assert strides == sorted(strides), (group, strides)
    # PatchCore's and PaDiM's groups are defined as stage ends: the last layer of each of those strides.
    for group, wanted in (("patchcore", (8, 16)), ("padim", (4, 8, 16))):
        taps = spec.groups[group]
        assert tuple(shapes[tap][1] for tap in taps) == wanted, group
        assert all(tap + 1 == len(shapes) or shapes[tap + 1][1] > shapes[tap][1] for tap in taps), group


def test_equiv_extractor_channels_strides_parameters_macs_and_memory(layer_outputs) -> None:
    name, shapes = layer_outputs
    channels, strides, parameters, macs, megabytes = EQUIV_FIGURES[name]
    taps = BACKBONES[name].groups["equiv"]
    assert tuple(shapes[tap][0] for tap in taps) == channels
    assert tuple(shapes[tap][1] for tap in taps) == strides
    extractor = FeatureExtractor(name, taps, weights="random")
    assert sum(p.numel() for p in extractor.parameters()) == parameters
    assert count_macs(extractor, SIZE) == macs
    assert footprint_mb(extractor) == pytest.approx(megabytes, abs=0.01)
