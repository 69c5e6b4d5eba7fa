"""PhiNet, built here in the TinyAD paper's configuration: its layer sequence, and weights only from a named file."""

from __future__ import annotations

import pytest
import torch

from core.backbones.layers import flatten_layers
from core.backbones.phinet import PhiNet
from core.backbones.weights import create_network
from core.errors import InputError

NAME = "phinet_7_1.2_0.5_6"


def test_layer_sequence_matches_the_papers_table_1() -> None:
    """Table 1 gives PhiNet's last layer index as 9: stem padding, stem, block 0 and blocks 1..7."""
    network = create_network(NAME, "random").eval()
    layers = flatten_layers(network)
    assert len(layers) - 1 == 9
    with torch.no_grad():
        x = torch.zeros(1, 3, 64, 64)
        shapes = []
        for layer in layers:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    # alpha 1.2 widens 48 / 24 / 48 / 96 / 192 channels to 57 / 28 / 57 / 115 / 230; stride 32 at the end.
    assert shapes[1:] == [(57, 32, 32), (28, 32, 32), (28, 16, 16), (28, 16, 16), (57, 8, 8), (57, 8, 8),
                          (115, 4, 4), (115, 4, 4), (230, 2, 2)]
    assert sum(p.numel() for p in network.parameters()) == 705_912
    assert network(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_imagenet_weights_are_refused_with_what_to_provide() -> None:
    with pytest.raises(InputError, match=r"no installed package ships.*micromind's PhiNet\(.*--weights FILE"):
        create_network(NAME)


def test_weights_from_a_named_file_load_and_another_configuration_is_refused(tmp_path) -> None:
    torch.manual_seed(1)
    source = PhiNet()
    torch.save(source.state_dict(), tmp_path / "phinet.pth")
    loaded = create_network(NAME, tmp_path / "phinet.pth")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), loaded.state_dict().values()))
    torch.save(PhiNet(alpha=1.0).state_dict(), tmp_path / "narrower.pth")
    with pytest.raises(InputError, match="narrower.pth: weights do not fit this backbone"):
        create_network(NAME, tmp_path / "narrower.pth")
    torch.save(create_network("mobilenetv2_100", "random").state_dict(), tmp_path / "mnv2.pth")
    with pytest.raises(InputError, match="mnv2.pth: weights do not fit this backbone; missing"):
        create_network(NAME, tmp_path / "mnv2.pth")


def test_same_module_tree_and_outputs_as_micromind() -> None:
    """Runs where micromind is installed (it is not a dependency): its PhiNet's state dict loads here strictly and
    both networks give the same logits."""
    micromind = pytest.importorskip("micromind.networks")
    theirs = micromind.PhiNet(input_shape=[3, 96, 96], num_layers=7, alpha=1.2, beta=0.5, t_zero=6,
                              include_top=True, num_classes=1000).eval()
    ours = PhiNet().eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))
