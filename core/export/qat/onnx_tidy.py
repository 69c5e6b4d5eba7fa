"""Rewrites of an exported Q/DQ ONNX graph that change no result, only what TensorRT and ONNX Runtime make of it.

- Identity nodes forwarding an initializer are dropped: the exporter shares equal weights through them, and
  TensorRT runs no Identity on INT8.
- Scales and zero points become initializers instead of Constant nodes: TensorRT 10 has no INT8 Constant layer (and
  ONNX Runtime's own quantizer writes them as initializers too).
- A zero Pad between a DequantizeLinear and a QuantizeLinear with the same scale and zero point pads the quantized
  tensor itself, with the zero point as pad value. ONNX Runtime's CPU provider has no quantized Pad fusion: left as
  it is, the Pad makes it dequantize, pad and re-quantize a large activation before every strided depthwise
  convolution of EfficientNet ("same" padding), which costs about as much as the convolution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper

_QDQ = {"QuantizeLinear", "DequantizeLinear"}


def tidy_qdq_graph(model: onnx.ModelProto) -> None:
    """Apply every rewrite of this module, in place."""
    drop_initializer_identities(model)
    qdq_constants_to_initializers(model)
    pad_quantized_tensors(model)


def drop_initializer_identities(model: onnx.ModelProto) -> int:
    """Feed the consumers of Identity(initializer) the initializer itself; return how many Identity nodes went."""
    initializers = {tensor.name for tensor in model.graph.initializer}
    outputs = {output.name for output in model.graph.output}
    forwarded = {node.output[0]: node.input[0] for node in model.graph.node
                 if node.op_type == "Identity" and node.input[0] in initializers and node.output[0] not in outputs}
    for node in model.graph.node:
        for index, name in enumerate(node.input):
            if name in forwarded:
                node.input[index] = forwarded[name]
    _keep_nodes(model, lambda node: not (node.op_type == "Identity" and node.output[0] in forwarded))
    return len(forwarded)


def qdq_constants_to_initializers(model: onnx.ModelProto) -> int:
    """Turn the Constant nodes that feed only Q/DQ nodes (scales, zero points) into initializers; return how many."""
    consumers = _consumers(model)
    outputs = {output.name for output in model.graph.output}
    moved = {node.output[0]: node for node in model.graph.node
             if _constant_tensor(node) is not None and node.output[0] not in outputs
             and {user.op_type for user in consumers.get(node.output[0], [])} <= _QDQ}
    for name, node in moved.items():
        tensor = onnx.TensorProto()
        tensor.CopyFrom(_constant_tensor(node))
        tensor.name = name
        model.graph.initializer.append(tensor)
    _keep_nodes(model, lambda node: not (node.op_type == "Constant" and node.output[0] in moved))
    return len(moved)


def pad_quantized_tensors(model: onnx.ModelProto) -> int:
    """Rewrite DQ(s, z) -> Pad(constant 0) -> Q(s, z) as Pad(value z) of the quantized tensor; return how many.

    Exact: z stands for 0.0 exactly, and Q(DQ(q)) with the same parameters gives q back.
    """
    values = _constant_values(model)
    producers = {output: node for node in model.graph.node for output in node.output}
    consumers = _consumers(model)
    outputs = {output.name for output in model.graph.output}
    dropped: set[str] = set()  # output names of the QuantizeLinear nodes made redundant
    for pad in [node for node in model.graph.node if node.op_type == "Pad"]:
        dequantize = producers.get(pad.input[0])
        users = consumers.get(pad.output[0], [])
        if dequantize is None or dequantize.op_type != "DequantizeLinear" or len(dequantize.input) < 3:
            continue
        if len(users) != 1 or users[0].op_type != "QuantizeLinear" or len(users[0].input) < 3:
            continue
        quantize = users[0]
        mode = next((attribute.s for attribute in pad.attribute if attribute.name == "mode"), b"constant")
        value = values.get(pad.input[2]) if len(pad.input) > 2 and pad.input[2] else np.zeros(1)
        scale, zero = (values.get(name) for name in dequantize.input[1:3])
        if mode != b"constant" or value is None or value.any() or pad.output[0] in outputs:
            continue
        if scale is None or zero is None or scale.size != 1:
            continue
        if not (_equal(scale, values.get(quantize.input[1])) and _equal(zero, values.get(quantize.input[2]))):
            continue
        pads = pad.input[1]
        del pad.input[:]
        pad.input.extend([dequantize.input[0], pads, dequantize.input[2]])
        pad.output[0] = quantize.output[0]
        dropped.add(quantize.output[0])
    _keep_nodes(model, lambda node: not (node.op_type == "QuantizeLinear" and node.output[0] in dropped))
    _drop_dead_nodes(model)
    return len(dropped)


def _constant_tensor(node: onnx.NodeProto) -> onnx.TensorProto | None:
    if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
        return node.attribute[0].t
    return None


def _constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    for node in model.graph.node:
        tensor = _constant_tensor(node)
        if tensor is not None:
            values[node.output[0]] = numpy_helper.to_array(tensor)
    return values


def _equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is not None and b is not None and a.dtype == b.dtype and a.shape == b.shape and bool(np.all(a == b))


def _consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _keep_nodes(model: onnx.ModelProto, keep: Callable[[onnx.NodeProto], bool]) -> None:
    kept = [node for node in model.graph.node if keep(node)]
    del model.graph.node[:]
    model.graph.node.extend(kept)


def _drop_dead_nodes(model: onnx.ModelProto) -> None:
    """Remove nodes none of whose outputs is used (repeatedly: removing one can orphan its producers), then the
    initializers nothing reads any more."""
    outputs = {output.name for output in model.graph.output}
    while True:
        used = {name for node in model.graph.node for name in node.input} | outputs
        before = len(model.graph.node)
        _keep_nodes(model, lambda node: any(name in used for name in node.output if name))
        if len(model.graph.node) == before:
            break
    kept = [tensor for tensor in model.graph.initializer if tensor.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
