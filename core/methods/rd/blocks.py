"""The convolution blocks of Reverse Distillation's bottleneck and decoder: conv-BN-ReLU, plain operators only.

Everything here exports to ONNX as Conv / Relu / Add / Resize (BN folds into the Conv), which TensorRT 8.5 takes and
which INT8 quantizes (Conv, Add); no transposed convolution, so the decoder upsamples bilinearly, then convolves.
"""

from __future__ import annotations

from torch import Tensor, nn


def conv_bn_relu(inputs: int, outputs: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(inputs, outputs, kernel, stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(outputs), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """ResNet's bottleneck block (1x1 reduce, 3x3 at `stride`, 1x1 expand, projected shortcut): RD's OCE block."""

    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        middle = max(1, outputs // 4)  # ResNet's expansion of 4, as in the paper's 3072 -> 512 -> 2048 block
        self.body = nn.Sequential(
            conv_bn_relu(inputs, middle, kernel=1),
            conv_bn_relu(middle, middle, kernel=3, stride=stride),
            nn.Conv2d(middle, outputs, 1, bias=False),
            nn.BatchNorm2d(outputs),
        )
        self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.body(x) + self.shortcut(x))
