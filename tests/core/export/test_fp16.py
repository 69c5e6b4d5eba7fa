"""FP16 conversion: the declared networks run in half precision, everything else stays FP32 in its values too."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import TensorProto
from torch import Tensor, nn

from core.export.fp16 import convert_to_fp16
from core.export.scopes import in_modules
from core.onnx_export import export_onnx

SIZE = 16


class LargeDistances(nn.Module):
    """A small network, then FP32 arithmetic whose intermediate values pass FP16's 65504 (as PaDiM's squared
    Mahalanobis distances of a defect do) and come back into range before the output."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.network = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        features = self.network(pixels / 255.0)
        squared = (features * 1000.0).pow(2).sum(dim=1, keepdim=True)  # up to ~1e7: inf in FP16
        maps = squared.sqrt() / 100.0
        return maps.amax(dim=(1, 2, 3)), maps


def _run(path, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return tuple(session.run(["score", "anomaly_map"], {"image": pixels}))


def _types(graph: onnx.GraphProto) -> dict[str, int]:
    typed = [*graph.input, *graph.output, *graph.value_info]
    return {info.name: info.type.tensor_type.elem_type for info in typed}


def test_values_between_fp32_nodes_stay_fp32_and_overflow_nothing(tmp_path) -> None:
    fp32_path = export_onnx(LargeDistances(), SIZE, tmp_path / "fp32.onnx")
    fp16_path = convert_to_fp16(fp32_path, tmp_path / "fp16.onnx", ["network"])
    pixels = (np.random.default_rng(0).random((2, 3, SIZE, SIZE)) * 255).astype(np.float32)

    reference, half = _run(fp32_path, pixels), _run(fp16_path, pixels)
    assert ((reference[1] * 100.0) ** 2).max() > 4 * 65504  # the squared sum really passes FP16's range
    assert np.isfinite(half[0]).all() and np.isfinite(half[1]).all()
    np.testing.assert_allclose(half[0], reference[0], rtol=5e-3)

    graph = onnx.load(str(fp16_path))
    onnx.checker.check_model(graph, full_check=True)  # topologically sorted, each output produced once
    types, checked = _types(graph.graph), set()
    for node in graph.graph.node:
        floats = [name for name in [*node.input, *node.output]
                  if types.get(name) in (TensorProto.FLOAT, TensorProto.FLOAT16)]
        if node.op_type == "Cast" or not floats:  # Casts sit on the boundary; shape arithmetic has no floats
            continue
        wanted = TensorProto.FLOAT16 if in_modules(node.name, ["network"]) else TensorProto.FLOAT
        assert all(types[name] == wanted for name in floats), (node.name, [types[name] for name in floats])
        checked.add(node.op_type)
    assert {"Conv", "Relu", "Pow", "ReduceSum", "Sqrt", "ReduceMax"} <= checked
    # no FP32 -> FP16 -> FP32 round trip is left: each Cast to FP16 feeds the network
    producer = {output: node for node in graph.graph.node for output in node.output}
    for node in graph.graph.node:
        source = producer.get(node.input[0]) if node.op_type == "Cast" else None
        assert not (source is not None and source.op_type == "Cast"), (source.name, node.name)
