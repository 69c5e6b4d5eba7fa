"""Constant 'SAME' padding: the same numbers as timm's shape-driven padding, and a graph without shape arithmetic."""

from __future__ import annotations

import onnx
import onnxruntime
import pytest
import timm
import torch

from core.backbones.same_padding import StaticSamePadConv2d, use_static_same_padding
from core.backbones.weights import create_network


@pytest.mark.parametrize("size", [64, 75])  # 75: odd sizes need asymmetric padding at every stride
def test_static_padding_gives_timm_outputs(size: int) -> None:
    torch.manual_seed(0)
    dynamic = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    static = use_static_same_padding(timm.create_model("tf_efficientnet_lite0", pretrained=False)).eval()
    static.load_state_dict(dynamic.state_dict())
    pixels = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert torch.allclose(static(pixels), dynamic(pixels), atol=1e-5)


def test_created_networks_keep_their_state_dict_keys() -> None:
    network = create_network("tf_efficientnet_lite0", weights="random")
    assert any(isinstance(module, StaticSamePadConv2d) for module in network.modules())
    assert list(network.state_dict()) == list(timm.create_model("tf_efficientnet_lite0").state_dict())


def test_exported_graph_has_constant_padding(tmp_path) -> None:
    network = create_network("tf_efficientnet_lite0", weights="random").eval()
    path = tmp_path / "net.onnx"
    with torch.no_grad():
        torch.onnx.export(network, (torch.zeros(1, 3, 64, 64),), str(path), dynamo=False, opset_version=17,
                          input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    operators = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "Pad" in operators
    assert not operators & {"Shape", "Ceil"}
    # ONNX Runtime folds each Pad into the Conv after it (the point of the exercise: a third of the latency)
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    assert "Pad" not in {node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node}
