"""MCUNet-in3 (Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020; `mcunet-320kB` in the mcunet
package's model zoo, 176 px), built here.

The TinyAD/PaSTe paper (Barusco et al., Sec. 4.1) uses this network. The mcunet package is not a dependency: it holds
no architecture, it downloads each network's JSON config and weights at run time. The blocks below are that
config's (expansion, output channels, stride, kernel), as transcribed in public ports; the network they build has
737,408 parameters and 81.8 M MACs at 176 px, the figures the official model zoo gives for it (0.74 M, 81.8 M).
The module tree is mcunet's `ProxylessNASNets` (first_conv, blocks.<i>.mobile_inverted_conv.{inverted_bottleneck,
depth_conv, point_linear}, classifier.linear), so the official `mcunet-320kb-1mb_imagenet.pth` state dict loads.
Assumed where the config is not at hand: ReLU6 everywhere, no squeeze-excite (the parameter count rules it out),
BatchNorm eps 1e-3 (ProxylessNAS's default), a residual wherever a block keeps shape.

Example:
    >>> MCUNet()(torch.zeros(1, 3, 176, 176)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

# (expansion, output channels, stride, depthwise kernel) of the 18 blocks; the stem is a 3x3 stride-2 conv to 16.
MCUNET_IN3_BLOCKS = (
    (1, 8, 1, 3), (3, 16, 2, 7), (5, 16, 1, 3), (5, 16, 1, 7), (4, 16, 1, 5), (5, 24, 2, 5), (5, 24, 1, 5),
    (5, 24, 1, 5), (5, 40, 2, 3), (6, 40, 1, 7), (4, 40, 1, 5), (5, 48, 1, 5), (5, 48, 1, 7), (5, 48, 1, 3),
    (6, 96, 2, 3), (5, 96, 1, 7), (4, 96, 1, 3), (5, 160, 1, 7),
)
_STEM_CHANNELS = 16


def _conv_bn(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1,
             activation: bool = True) -> nn.Sequential:
    modules: OrderedDict[str, nn.Module] = OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups, bias=False),
        bn=nn.BatchNorm2d(out_channels, eps=1e-3))
    if activation:
        modules["act"] = nn.ReLU6()
    return nn.Sequential(modules)


class InvertedConv(nn.Module):
    """1x1 expansion (absent at expansion 1), kxk depthwise, 1x1 linear projection."""

    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int, kernel: int) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.inverted_bottleneck = _conv_bn(in_channels, hidden, 1) if expansion != 1 else None
        self.depth_conv = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.point_linear = _conv_bn(hidden, out_channels, 1, activation=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.inverted_bottleneck is not None:
            x = self.inverted_bottleneck(x)
        return self.point_linear(self.depth_conv(x))


class MCUNetBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, expansion: int, stride: int, kernel: int) -> None:
        super().__init__()
        self.mobile_inverted_conv = InvertedConv(in_channels, out_channels, expansion, stride, kernel)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.mobile_inverted_conv(x)
        return out + x if self.residual else out


class MCUNet(nn.Module):
    """MCUNet-in3 with its ImageNet classifier head (global average pool, linear)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.first_conv = _conv_bn(3, _STEM_CHANNELS, 3, stride=2)
        blocks, channels = [], _STEM_CHANNELS
        for expansion, out_channels, stride, kernel in MCUNET_IN3_BLOCKS:
            blocks.append(MCUNetBlock(channels, out_channels, expansion, stride, kernel))
            channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Sequential(OrderedDict(linear=nn.Linear(channels, num_classes)))

    def forward(self, x: Tensor) -> Tensor:
        x = self.first_conv(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(torch.mean(x, dim=(2, 3)))
