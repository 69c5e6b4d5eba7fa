"""Turn a timm classification network into a flat, indexable list of layers.

The TinyAD/PaSTe paper (Barusco et al., Table 1) numbers a backbone's layers as a flat sequence: the stem is layer 0,
each inverted-residual (or residual) block is one layer, and the 1x1 head conv is the last. We rebuild exactly that
sequence so that layer groups written as indices mean the same thing as in the paper, so that a backbone can be cut
after its last tapped layer (nothing past it is computed or stored), and so that PaSTe can split it into a shared
prefix and a trainable suffix.
"""

from __future__ import annotations

from torch import nn

from core.backbones.mcunet import MCUNet
from core.backbones.phinet import PhiNet


def flatten_layers(network: nn.Module) -> list[nn.Module]:
    """Return the network's layers in paper order. Supports timm's EfficientNet/MobileNet family, ResNets, PhiNet and
    MCUNet."""
    if isinstance(network, PhiNet):
        return list(network._layers)  # already the paper's sequence (its Table 1 counts the stem padding as layer 0)
    if isinstance(network, MCUNet):
        # The paper's Table 1 counts 18 layers (last index 17): the stem with the first, unexpanded block, then one per
        # block. (Counting the stem apart would give 19.)
        return [nn.Sequential(network.first_conv, network.blocks[0]), *network.blocks[1:]]
    if hasattr(network, "conv_stem") and hasattr(network, "blocks"):
        stem = nn.Sequential(network.conv_stem, network.bn1)
        blocks = [block for stage in network.blocks for block in stage]
        head = nn.Sequential(network.conv_head, network.bn2)
        return [stem, *blocks, head]
    if hasattr(network, "conv1") and hasattr(network, "layer1"):
        stem = nn.Sequential(network.conv1, network.bn1, network.act1, network.maxpool)
        blocks = [block for stage in (network.layer1, network.layer2, network.layer3, network.layer4) for block in stage]
        return [stem, *blocks]
    raise ValueError(f"{type(network).__name__}: no known way to split this network into layers")
