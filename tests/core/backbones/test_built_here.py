"""The TinyAD paper's edge backbones built here (PhiNet, MCUNet-in3): their layer sequences against the paper's Table 1
and the networks' published figures, and weights only from a file the user names."""

from __future__ import annotations

import pytest
import torch

from core.backbones.layers import flatten_layers
from core.backbones.mcunet import MCUNet
from core.backbones.phinet import PhiNet
from core.backbones.weights import create_network
from core.errors import InputError
from core.profiling import count_macs

PHINET = "phinet_7_1.2_0.5_6"
MCUNET = "mcunet_in3"


def _output_shapes(name: str, size: int) -> list[tuple[int, ...]]:
    x = torch.zeros(1, 3, size, size)
    shapes = []
    with torch.no_grad():
        for layer in flatten_layers(create_network(name, "random").eval()):
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    return shapes


def test_phinet_layer_sequence_matches_the_papers_table_1() -> None:
    """Table 1 gives PhiNet's last layer index as 9: stem padding, stem, block 0 and blocks 1..7; alpha 1.2 widens
    48 / 24 / 48 / 96 / 192 channels to 57 / 28 / 57 / 115 / 230."""
    assert _output_shapes(PHINET, 64)[1:] == [(57, 32, 32), (28, 32, 32), (28, 16, 16), (28, 16, 16), (57, 8, 8),
                                              (57, 8, 8), (115, 4, 4), (115, 4, 4), (230, 2, 2)]
    network = PhiNet()
    assert sum(p.numel() for p in network.parameters()) == 705_912
    assert network(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_mcunet_has_the_model_zoos_figures_and_the_papers_layer_count() -> None:
    """The mcunet model zoo gives mcunet-320kB (in3) 0.74 M parameters and 81.8 M MACs at 176 px; Table 1 gives its
    last layer index as 17."""
    network = MCUNet()
    assert sum(p.numel() for p in network.parameters()) == 737_408
    assert round(count_macs(network, 176) / 1e6, 1) == 81.8
    shapes = _output_shapes(MCUNET, 64)
    assert len(shapes) - 1 == 17
    assert [shape[0] for shape in shapes] == [8, 16, 16, 16, 16, 24, 24, 24, 40, 40, 40, 48, 48, 48, 96, 96, 96, 160]
    assert shapes[-1][1:] == (2, 2)


@pytest.mark.parametrize(("name", "what"), [(PHINET, r"micromind's PhiNet\(.*\)"),
                                            (MCUNET, r"mcunet-320kb-1mb_imagenet.pth")])
def test_imagenet_weights_are_refused_with_what_to_provide(name: str, what: str) -> None:
    with pytest.raises(InputError, match=rf"{name}: no installed package ships.*{what}.*--weights FILE"):
        create_network(name)


@pytest.mark.parametrize(("name", "build", "other"), [(PHINET, PhiNet, lambda: PhiNet(alpha=1.0)),
                                                      (MCUNET, MCUNet, lambda: MCUNet(num_classes=10))])
def test_weights_from_a_named_file_load_and_other_weights_are_refused(name, build, other, tmp_path) -> None:
    torch.manual_seed(1)
    source = build()
    # mcunet's .pth files hold {"state_dict": ...}; a bare state dict works too.
    torch.save({"state_dict": source.state_dict()}, tmp_path / "weights.pth")
    loaded = create_network(name, tmp_path / "weights.pth")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), loaded.state_dict().values()))
    torch.save(other().state_dict(), tmp_path / "other.pth")
    if name == PHINET:  # narrower everywhere
        with pytest.raises(InputError, match="other.pth: weights do not fit this backbone"):
            create_network(name, tmp_path / "other.pth")
    else:  # another head only: the backbone loads, the head is never used
        create_network(name, tmp_path / "other.pth")
    torch.save(create_network("mobilenetv2_100", "random").state_dict(), tmp_path / "mnv2.pth")
    with pytest.raises(InputError, match="mnv2.pth: weights do not fit this backbone; missing"):
        create_network(name, tmp_path / "mnv2.pth")


def test_phinet_has_the_same_module_tree_and_outputs_as_micromind() -> None:
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
