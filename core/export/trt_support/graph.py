"""What the checks need to know about an ONNX graph, gathered once: every node (subgraphs included), which tensors
are constants and their values, each tensor's element type and rank, and each node's operator schema.

"Constant" follows the ONNX-TensorRT parser: an initializer, or the output of a `Constant` node (the parser turns
both into weights; every other tensor becomes a network layer's output, even when it could be folded).

Example:
    >>> view = GraphView.of(onnx.load("model.onnx"))
    >>> [view.label(node) for node in view.nodes if view.is_constant(node.input[-1])]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.defs import OpSchema

STANDARD_DOMAINS = ("", "ai.onnx")

# ONNX element types as the TensorRT tables name them (unlisted ones keep their ONNX name, e.g. UINT16, STRING).
_TABLE_TYPE_NAMES = {
    onnx.TensorProto.FLOAT: "FP32", onnx.TensorProto.FLOAT16: "FP16", onnx.TensorProto.BFLOAT16: "BF16",
    onnx.TensorProto.FLOAT8E4M3FN: "FP8", onnx.TensorProto.FLOAT8E4M3FNUZ: "FP8", onnx.TensorProto.FLOAT8E5M2: "FP8",
    onnx.TensorProto.FLOAT8E5M2FNUZ: "FP8",
}


def table_type_name(elem_type: int) -> str:
    """"FP32", "INT64", "UINT8"...: an ONNX element type in the tables' spelling."""
    return _TABLE_TYPE_NAMES.get(elem_type) or onnx.TensorProto.DataType.Name(elem_type)


@dataclass
class GraphView:
    """Read-only facts about one model; build with `GraphView.of(model)`."""

    model: onnx.ModelProto
    opset: int
    nodes: tuple[onnx.NodeProto, ...]
    constants: dict[str, onnx.TensorProto | onnx.NodeProto]  # initializers and Constant nodes, by tensor name
    elem_types: dict[str, int]
    ranks: dict[str, int]
    graph_inputs: frozenset[str]
    graph_outputs: frozenset[str]
    _schemas: dict[tuple[str, str], OpSchema | None] = field(default_factory=dict)

    @classmethod
    def of(cls, model: onnx.ModelProto) -> "GraphView":
        opset = next((entry.version for entry in model.opset_import if entry.domain in STANDARD_DOMAINS), 0)
        inferred = _with_inferred_types(model)
        graphs = list(_graphs(inferred.graph))
        nodes = tuple(node for graph in graphs for node in graph.node)
        constants: dict[str, onnx.TensorProto | onnx.NodeProto] = {
            tensor.name: tensor for graph in graphs for tensor in graph.initializer}
        for node in nodes:
            if node.op_type == "Constant" and node.domain in STANDARD_DOMAINS and node.output:
                constants[node.output[0]] = node
        elem_types, ranks = _types_and_ranks(graphs)
        initialisers = {tensor.name for tensor in model.graph.initializer}
        return cls(
            model=model, opset=opset, nodes=nodes, constants=constants, elem_types=elem_types, ranks=ranks,
            graph_inputs=frozenset(value.name for value in model.graph.input) - initialisers,
            graph_outputs=frozenset(value.name for value in model.graph.output),
        )

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def constant_value(self, name: str) -> np.ndarray | None:
        """A constant's value (read only when asked: a memory bank can be large), None when not a dense tensor."""
        source = self.constants.get(name)
        if isinstance(source, onnx.TensorProto):
            return numpy_helper.to_array(source)
        return _constant_value(source) if source is not None else None

    def type_name(self, tensor: str) -> str | None:
        """The tensor's element type in the tables' spelling, or None when inference could not tell."""
        elem_type = self.elem_types.get(tensor)
        return table_type_name(elem_type) if elem_type else None

    def schema(self, node: onnx.NodeProto) -> OpSchema | None:
        """The ONNX schema in force for `node` at the model's opset (None for operators ONNX does not define)."""
        key = (node.domain, node.op_type)
        if key not in self._schemas:
            version = next((e.version for e in self.model.opset_import if e.domain == node.domain), self.opset)
            try:
                self._schemas[key] = onnx.defs.get_schema(node.op_type, version, node.domain)
            except onnx.defs.SchemaError:
                self._schemas[key] = None
        return self._schemas[key]

    def input_named(self, node: onnx.NodeProto, formal: str) -> str | None:
        """The tensor wired to the schema input called `formal` ("K", "axes"), or None when absent or not an input."""
        schema = self.schema(node)
        names = [parameter.name for parameter in schema.inputs] if schema else []
        if formal not in names:
            return None
        index = names.index(formal)
        return node.input[index] if index < len(node.input) and node.input[index] else None

    def output_named(self, node: onnx.NodeProto, formal: str) -> str | None:
        schema = self.schema(node)
        names = [parameter.name for parameter in schema.outputs] if schema else []
        if formal not in names:
            return None
        index = names.index(formal)
        return node.output[index] if index < len(node.output) and node.output[index] else None

    def has_attribute(self, node: onnx.NodeProto, name: str) -> bool:
        """Whether `name` is an attribute of this operator (set or not), as opposed to an input or nothing."""
        schema = self.schema(node)
        return bool(schema and name in schema.attributes) or any(a.name == name for a in node.attribute)

    def attribute(self, node: onnx.NodeProto, name: str) -> Any:
        """The attribute's value (strings decoded), its schema default when unset, or None when it has neither."""
        for attribute in node.attribute:
            if attribute.name == name:
                return _decoded(onnx.helper.get_attribute_value(attribute))
        schema = self.schema(node)
        default = schema.attributes[name].default_value if schema and name in schema.attributes else None
        return _decoded(onnx.helper.get_attribute_value(default)) if default is not None and default.name else None

    def is_set(self, node: onnx.NodeProto, name: str) -> bool:
        return any(attribute.name == name for attribute in node.attribute)

    @staticmethod
    def label(node: onnx.NodeProto) -> str:
        """The node's name, or what it produces when the exporter left it unnamed."""
        return node.name or f"<unnamed {node.op_type} -> {node.output[0] if node.output else '?'}>"


def _with_inferred_types(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, strict_mode=False)
    except Exception:  # noqa: BLE001 - inference is a help, not a requirement: unknown types are then not checked
        return model


def _types_and_ranks(graphs: list[onnx.GraphProto]) -> tuple[dict[str, int], dict[str, int]]:
    """Element type and rank of every tensor that declares or was inferred to have them."""
    elem_types: dict[str, int] = {}
    ranks: dict[str, int] = {}
    for graph in graphs:
        for value in (*graph.input, *graph.output, *graph.value_info):
            tensor_type = value.type.tensor_type
            if tensor_type.elem_type:
                elem_types[value.name] = tensor_type.elem_type
            if tensor_type.HasField("shape"):
                ranks[value.name] = len(tensor_type.shape.dim)
        for tensor in graph.initializer:
            elem_types[tensor.name] = tensor.data_type
            ranks[tensor.name] = len(tensor.dims)
    return elem_types, ranks


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """The graph and the bodies of its If/Loop/Scan nodes, depth first."""
    yield graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for body in attribute.graphs:
                    yield from _graphs(body)


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attribute in node.attribute:
        if attribute.name == "value":
            return numpy_helper.to_array(attribute.t)
        if attribute.name in ("value_float", "value_floats", "value_int", "value_ints"):
            return np.asarray(onnx.helper.get_attribute_value(attribute))
    return None  # sparse_value or strings


def _decoded(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value
