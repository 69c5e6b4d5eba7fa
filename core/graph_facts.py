"""What a bundle needs to know about its ONNX graph: inputs, outputs, opset, and whether its tensors already carry
their precision (Q/DQ nodes, FP16 tensors), which decides the TensorRT build flags on the device.

Example:
    >>> facts = inspect_graph(Path("model.onnx"))
    >>> facts.has_qdq, facts.inputs["image"].shape
    (True, (-1, 3, 256, 256))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto

from core.errors import InputError

_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass(frozen=True)
class TensorFacts:
    """A graph input or output; dynamic dimensions are -1."""

    name: str
    dtype: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class GraphFacts:
    opset: int
    inputs: dict[str, TensorFacts]
    outputs: tuple[TensorFacts, ...]
    has_qdq: bool
    has_fp16: bool
    external_files: tuple[str, ...]


def inspect_graph(path: Path) -> GraphFacts:
    """Read `path`'s structure (weights stored outside the file are listed, not loaded)."""
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf raises assorted errors for a file that is not ONNX
        raise InputError(f"{path}: not a readable ONNX model ({error})") from None
    graph = model.graph
    initialisers = {tensor.name for tensor in graph.initializer}
    inputs = {value.name: _tensor(value) for value in graph.input if value.name not in initialisers}
    outputs = tuple(_tensor(value) for value in graph.output)
    nodes = list(_all_nodes(graph))
    fp16 = (any(tensor.data_type == TensorProto.FLOAT16 for tensor in graph.initializer)
            or any(facts.dtype == "float16" for facts in (*inputs.values(), *outputs))
            or any(node.op_type == "Cast" and _cast_target(node) == TensorProto.FLOAT16 for node in nodes))
    external = sorted({entry.value for tensor in graph.initializer
                       if tensor.data_location == TensorProto.EXTERNAL
                       for entry in tensor.external_data if entry.key == "location"})
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), 0)
    return GraphFacts(opset=opset, inputs=inputs, outputs=outputs,
                      has_qdq=any(node.op_type in _QDQ_OPS for node in nodes), has_fp16=fp16,
                      external_files=tuple(external))


def output_role(facts: TensorFacts) -> str:
    """'score' for a per-image output (N or N x 1), 'anomaly_map' for a per-pixel one (N x [1 x] H x W)."""
    return "score" if len(facts.shape) <= 2 else "anomaly_map"


def _tensor(value: onnx.ValueInfoProto) -> TensorFacts:
    tensor_type = value.type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name if tensor_type.elem_type else "unknown"
    shape = tuple(dim.dim_value if dim.HasField("dim_value") else -1 for dim in tensor_type.shape.dim)
    return TensorFacts(value.name, dtype, shape)


def _all_nodes(graph: onnx.GraphProto):
    """Every node, including those inside If/Loop/Scan bodies."""
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attribute.g)
            for subgraph in attribute.graphs:
                yield from _all_nodes(subgraph)


def _cast_target(node: onnx.NodeProto) -> int:
    return next((attribute.i for attribute in node.attribute if attribute.name == "to"), 0)
