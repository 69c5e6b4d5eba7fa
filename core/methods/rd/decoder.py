"""Reverse Distillation's student decoder: it mirrors the encoder, from the embedding back up to each tapped layer.

Built from the probed tap shapes rather than from a fixed architecture (anomalib's decoder exists for ResNets only).
Deepest tap first, each stage doubles the resolution (bilinear, then a 3 x 3 conv-BN-ReLU) until it reaches that
tap's stride, refines with one more conv-BN-ReLU at twice the tap's channels, and a linear 1 x 1 head gives the tap's
channels: the encoders' block outputs are not ReLU'd (EfficientNet's and MobileNet's projections are linear), so the
reconstruction must be able to go negative. The next stage continues from the trunk, not from the head.

Each upsampling lands on the size the encoder's map has (given at forward), so input sizes that are not a multiple
of the embedding's stride still line up; the sizes are Python ints, which the exporters record as constants.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn
from torch.nn import functional as F

from core.methods.rd.blocks import conv_bn_relu
from core.methods.rd.shapes import TapShape, halvings

Size = tuple[int, int]


class DecoderStage(nn.Module):
    """`steps` x (upsample x2, conv-BN-ReLU), then one conv-BN-ReLU; with no steps, two conv-BN-ReLU."""

    def __init__(self, inputs: int, width: int, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.convs = nn.ModuleList(conv_bn_relu(inputs if index == 0 else width, width)
                                   for index in range(max(steps, 1) + 1))

    def forward(self, x: Tensor, size: Size) -> Tensor:
        for index, conv in enumerate(self.convs):
            if index < self.steps:
                x = F.interpolate(x, size=_step_size(size, self.steps - 1 - index), mode="bilinear",
                                  align_corners=False)
            x = conv(x)
        return x


def _step_size(size: Size, remaining: int) -> Size:
    """The size of an upsampling step with `remaining` more to come before `size` (each one doubles)."""
    return (math.ceil(size[0] / 2**remaining), math.ceil(size[1] / 2**remaining))


class MirrorDecoder(nn.Module):
    """forward(embedding, sizes) -> {key: N x C x h x w} with each tapped layer's channels, at `sizes[key]`."""

    def __init__(self, taps: Sequence[TapShape], embedding_channels: int, embedding_stride: int) -> None:
        super().__init__()
        deepest_first = list(reversed(taps))
        self.keys = tuple(tap.key for tap in deepest_first)
        stages, heads = [], []
        channels, stride = embedding_channels, embedding_stride
        for tap in deepest_first:
            width = 2 * tap.channels
            stages.append(DecoderStage(channels, width, halvings(tap.stride, stride)))
            heads.append(nn.Conv2d(width, tap.channels, 1))
            channels, stride = width, tap.stride
        self.stages = nn.ModuleList(stages)
        self.heads = nn.ModuleList(heads)

    def forward(self, embedding: Tensor, sizes: dict[str, Size]) -> dict[str, Tensor]:
        outputs: dict[str, Tensor] = {}
        x = embedding
        for key, stage, head in zip(self.keys, self.stages, self.heads):
            x = stage(x, sizes[key])
            outputs[key] = head(x)
        return outputs
