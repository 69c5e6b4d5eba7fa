"""Export a converted PT2E graph (torchao `convert_pt2e` output) as a Q/DQ ONNX graph at opset 17.

The converted graph holds `quantized_decomposed` quantize/dequantize ops with their learned scales and zero points,
int8 weights folded to constants. The TorchScript-based exporter (the one `core.onnx_export` uses, since the
dynamo exporter cannot write our Pad operators at opset 17) does not know those ops, so for the duration of the
export each is given a one-line translation to QuantizeLinear / DequantizeLinear. Everything else in the graph is
plain ATen and exports as the FP32 graph does.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch
from torch import Tensor, nn
from torch.fx import GraphModule
from torch.onnx import symbolic_helper
from torchao.quantization.pt2e import allow_exported_model_train_eval, move_exported_model_to_eval

from core.onnx_export import INPUT_NAME, OPSET, OUTPUT_NAMES
from core.export.qat.onnx_tidy import tidy_qdq_graph

# torch ScalarType codes of the quantized dtypes -> (torch dtype, ONNX TensorProto type).
_SCALAR_TYPES = {0: (torch.uint8, 2), 1: (torch.int8, 3), 3: (torch.int32, 6)}
_NAMESPACE = "quantized_decomposed"


def _constant(g, value: Tensor):
    return g.op("Constant", value_t=value)


def _dtype(dtype_code) -> tuple[torch.dtype, int]:
    code = symbolic_helper._get_const(dtype_code, "i", "dtype")
    if code not in _SCALAR_TYPES:
        raise ValueError(f"quantized dtype code {code} has no ONNX Q/DQ equivalent")
    return _SCALAR_TYPES[code]


def _per_tensor_qparams(g, scale, zero_point, dtype_code):
    dtype, _ = _dtype(dtype_code)
    scale_value = symbolic_helper._get_const(scale, "f", "scale")
    zero_value = symbolic_helper._get_const(zero_point, "i", "zero_point")
    scale_constant = _constant(g, torch.tensor(scale_value, dtype=torch.float32))
    return scale_constant, _constant(g, torch.tensor(zero_value, dtype=dtype))


def _quantize_per_tensor(g, x, scale, zero_point, quant_min, quant_max, dtype):
    return g.op("QuantizeLinear", x, *_per_tensor_qparams(g, scale, zero_point, dtype))


def _dequantize_per_tensor(g, x, scale, zero_point, quant_min, quant_max, dtype, out_dtype=None):
    return g.op("DequantizeLinear", x, *_per_tensor_qparams(g, scale, zero_point, dtype))


def _dequantize_per_channel(g, x, scales, zero_points, axis, quant_min, quant_max, dtype, out_dtype=None):
    _, onnx_type = _dtype(dtype)
    axis_value = symbolic_helper._get_const(axis, "i", "axis")
    # Scales and zero points are parameters of the graph (int64 zero points): the cast is constant-folded away.
    zero = g.op("Cast", zero_points, to_i=onnx_type)
    return g.op("DequantizeLinear", x, scales, zero, axis_i=axis_value)


_SYMBOLICS = {
    f"{_NAMESPACE}::quantize_per_tensor": _quantize_per_tensor,
    f"{_NAMESPACE}::dequantize_per_tensor": _dequantize_per_tensor,
    f"{_NAMESPACE}::dequantize_per_channel": _dequantize_per_channel,
}


@contextlib.contextmanager
def qdq_symbolics(opset: int = OPSET) -> Iterator[None]:
    """Register the Q/DQ translations for the exporter while the block runs, and remove them afterwards."""
    for name, function in _SYMBOLICS.items():
        torch.onnx.register_custom_op_symbolic(name, function, opset)
    try:
        yield
    finally:
        for name in _SYMBOLICS:
            torch.onnx.unregister_custom_op_symbolic(name, opset)


class _ScoresAndMaps(nn.Module):
    """The converted pipeline without its loss inputs: (scores, anomaly maps), as every exported graph has."""

    def __init__(self, graph: GraphModule) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor]:
        scores, maps, _ = self.graph(pixels)
        return scores, maps


def export_qdq_onnx(converted: GraphModule, image_size: int, path: Path, opset: int = OPSET) -> Path:
    """Write the converted graph as ONNX: input "image" N x 3 x S x S pixels 0..255, outputs "score" and
    "anomaly_map", dynamic batch."""
    move_exported_model_to_eval(converted)
    # The exporter calls .train(False); an exported graph refuses that unless allowed (dropout/batch norm only).
    allow_exported_model_train_eval(converted)
    model = _ScoresAndMaps(converted)
    for module in model.modules():
        module.training = False  # so the exporter folds constants (it reads the flag, not the graph)
    example = torch.full((1, 3, image_size, image_size), 127.0)
    batch = {0: "batch"}
    with qdq_symbolics(opset), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes are not the user's concern
        torch.onnx.export(
            model, (example,), str(path), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            opset_version=opset, dynamo=False, training=torch.onnx.TrainingMode.EVAL,
            dynamic_axes={INPUT_NAME: batch, OUTPUT_NAMES[0]: batch, OUTPUT_NAMES[1]: batch},
        )
    graph = onnx.load(str(path))
    tidy_qdq_graph(graph)
    onnx.save(graph, str(path))
    return Path(path)
