"""PTQ range methods: each one chooses its own activation ranges (entropy once silently fell back to min-max)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from torch import nn

from core.export.ptq import quantize_ptq


class _Network(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(), nn.Conv2d(8, 8, 3, padding=1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image)


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    path = tmp_path_factory.mktemp("ranges") / "fp32.onnx"
    torch.manual_seed(0)
    torch.onnx.export(_Network().eval(), (torch.zeros(1, 3, 64, 64),), str(path), input_names=["image"],
                      opset_version=17, dynamo=False, dynamic_axes={"image": {0: "batch"}})
    return path


def input_scale(path) -> float:
    """Scale of the QuantizeLinear on the graph input (the first convolution's activations)."""
    model = onnx.load(str(path))
    initializers = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    quantize = next(node for node in model.graph.node if node.op_type == "QuantizeLinear" and node.input[0] == "image")
    return float(initializers[quantize.input[1]])


def test_histogram_methods_clip_rare_outliers_that_min_max_keeps(graph, tmp_path) -> None:
    rng = np.random.default_rng(0)
    calibration = rng.normal(0, 1, (32, 3, 64, 64)).astype(np.float32)
    # one outlier in 393,216 values, rarer than the 99.999th percentile: min-max must cover it, the others need not
    calibration[0, 0, 0, 0] = 200.0
    scales = {}
    for method in ("minmax", "entropy", "percentile"):
        scales[method] = input_scale(quantize_ptq(graph, tmp_path / f"{method}.onnx", calibration, ("net",), "tensorrt", method))
    assert scales["minmax"] == pytest.approx(200.0 / 127, rel=0.01)  # symmetric int8: amax / 127
    assert scales["entropy"] < scales["minmax"] / 4
    assert scales["percentile"] < scales["minmax"] / 4
