"""PhiNet (Paissan et al., "PhiNets: a scalable backbone for low-power AI at the edge", ACM TECS 2021), built here.

The TinyAD/PaSTe paper (Barusco et al., Sec. 4.1) uses micromind's PhiNet with num_layers=7, alpha=1.2, beta=0.5,
t0=6 at 224 px. micromind itself is not a dependency (it pins accelerate and pulls torchaudio for one network), so
the network is rebuilt from the paper's definition with the same module tree as micromind 0.2.1's `PhiNet`: a
state dict saved from micromind's network loads here unchanged (`_layers.<i>._layers.<j>...`). No ImageNet weights
ship with any package; they come from a file the user names.

Layout of `_layers` (one entry per paper layer, apart from the explicit stem padding):
    0 ZeroPad2d, 1 separable stem conv (stride 2), 2 block 0 (depthwise + project, no expansion),
    3..(2 + num_layers) the inverted-residual blocks 1..num_layers.

Example:
    >>> network = PhiNet()                      # the paper's configuration, random weights
    >>> network(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional

# TensorFlow's BatchNorm defaults, which PhiNet was trained with.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.999


def _rounded(channels: float) -> int:
    """micromind's `_make_divisible` with divisor 1: nearest integer, at least 1."""
    return max(1, int(channels + 0.5))


def _expansion(t_zero: float, beta: float, block_id: int, num_layers: int) -> float:
    """PhiNet's expansion factor: t0 at the first block, shrinking linearly to beta * t0 at the last."""
    return (t_zero * beta) * block_id / num_layers + t_zero * (num_layers - block_id) / num_layers


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class SqueezeExcite(nn.Module):
    """Channel attention: global pool, 1x1 down, hard-swish, 1x1 up, sigmoid gate."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.se_conv = nn.Conv2d(channels, reduced, kernel_size=1, bias=False)
        self.se_conv2 = nn.Conv2d(reduced, channels, kernel_size=1, bias=False)
        self.activation = nn.Hardswish()

    def forward(self, x: Tensor) -> Tensor:
        gate = self.se_conv2(self.activation(self.se_conv(functional.adaptive_avg_pool2d(x, 1))))
        return x * torch.sigmoid(gate)


class SeparableStem(nn.Module):
    """The first layer: a 3x3 depthwise conv (stride 2, after explicit padding), a 1x1 conv, BatchNorm, hard-swish."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self._layers = nn.ModuleList([
            nn.Conv2d(in_channels, in_channels, 3, stride=stride, groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            _batch_norm(out_channels),
            nn.Hardswish(),
        ])

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._layers:
            x = layer(x)
        return x


class PhiNetBlock(nn.Module):
    """Inverted residual: [1x1 expand, BN, hard-swish], depthwise kxk, BN, hard-swish, [squeeze-excite], 1x1 project,
    BN; a residual connection when shape is kept. Block 0 has no expansion (and no squeeze-excite)."""

    def __init__(self, in_channels: int, out_channels: int, expansion: float, stride: int, kernel: int = 3,
                 expand: bool = True, squeeze_excite: bool = True) -> None:
        super().__init__()
        hidden = _rounded(int(expansion * in_channels)) if expand else in_channels
        layers: list[nn.Module] = []
        if expand:
            layers += [nn.Conv2d(in_channels, hidden, 1, bias=False), _batch_norm(hidden), nn.Hardswish()]
        # micromind keeps a Dropout2d here (identity at inference); kept so that module indices match its state dict.
        layers += [nn.Dropout2d(0.05), nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2,
                                                  groups=hidden, bias=False), _batch_norm(hidden), nn.Hardswish()]
        if squeeze_excite:
            layers.append(SqueezeExcite(hidden, _rounded(max(1, int(hidden / 6)))))
        layers += [nn.Conv2d(hidden, out_channels, 1, bias=False), _batch_norm(out_channels)]
        self._layers = nn.ModuleList(layers)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for layer in self._layers:
            out = layer(out)
        return out + x if self.residual else out


class PhiNet(nn.Module):
    """PhiNet with an ImageNet classifier head; `_layers` is the flat layer sequence (see the module docstring)."""

    def __init__(self, num_layers: int = 7, alpha: float = 1.2, beta: float = 0.5, t_zero: float = 6.0,
                 downsampling_layers: Sequence[int] = (5, 7), num_classes: int = 1000) -> None:
        super().__init__()
        stem, first, second = _rounded(int(48 * alpha)), _rounded(int(24 * alpha)), _rounded(int(48 * alpha))
        layers: list[nn.Module] = [
            # 'SAME' padding of a stride-2 3x3 conv on an even input: one row and column after, none before.
            nn.ZeroPad2d((0, 1, 0, 1)),
            SeparableStem(3, stem, stride=2),
            PhiNetBlock(stem, first, 1.0, stride=1, expand=False, squeeze_excite=False),
            PhiNetBlock(first, first, _expansion(t_zero, beta, 1, num_layers), stride=2),
            PhiNetBlock(first, first, _expansion(t_zero, beta, 2, num_layers), stride=1),
            PhiNetBlock(first, second, _expansion(t_zero, beta, 3, num_layers), stride=2),
        ]
        channels, filters = second, 48
        for block_id in range(4, num_layers + 1):
            downsample = block_id in downsampling_layers
            filters *= 2 if downsample else 1
            out = _rounded(int(filters * alpha))
            layers.append(PhiNetBlock(channels, out, _expansion(t_zero, beta, block_id, num_layers),
                                      stride=2 if downsample else 1))
            channels = out
        self._layers = nn.ModuleList(layers)
        self.num_features = channels
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self._layers:
            x = layer(x)
        return self.classifier(x)
