"""FP16 graph for runtimes that execute half precision (GPUs, TensorRT); the input and outputs stay float32.

Only the method's networks (as its spec declares them) are converted: anomaly-map arithmetic such as STFPM's product
of small squared distances underflows in half precision, PaDiM's squared Mahalanobis distances pass 65504 (FP16's
largest value) on defects, and distances to a memory bank lose their ordering; all of it stays FP32.
On TensorRT the usual way is the FP32 graph built with `--fp16`; this graph serves ONNX Runtime and fixed-type builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import onnx
from onnx import TensorProto

from core.export.scopes import in_modules


def convert_to_fp16(fp32_path: Path, out_path: Path, networks: Sequence[str]) -> Path:
    """Write a copy of `fp32_path` whose `networks` (module paths, see `core.export.scopes`) run in float16."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    fp32_nodes = [node.name for node in model.graph.node if not in_modules(node.name, networks)]
    half = convert_float_to_float16(model, keep_io_types=True, node_block_list=fp32_nodes)
    _drop_repeated_casts(half.graph)
    _drop_half_round_trips(half.graph)
    onnx.save(half, str(out_path))
    return Path(out_path)


def _drop_repeated_casts(graph: onnx.GraphProto) -> None:
    """The converter inserts one Cast per consumer of a tensor that crosses into an FP32 node, all with the same
    name and output; ONNX requires each output to be produced once, so keep the first of identical Casts."""
    produced: set[str] = set()
    kept = []
    for node in graph.node:
        if node.op_type == "Cast" and set(node.output) <= produced:
            continue
        produced.update(node.output)
        kept.append(node)
    del graph.node[:]
    graph.node.extend(kept)


def _cast_to(node: onnx.NodeProto) -> int | None:
    if node.op_type != "Cast":
        return None
    return next((attribute.i for attribute in node.attribute if attribute.name == "to"), None)


def _drop_half_round_trips(graph: onnx.GraphProto) -> None:
    """Make every tensor that passes between two FP32 nodes stay FP32.

    The converter (onnxruntime.transformers.float16, as of 1.32) keeps a blocked node's arithmetic in FP32 but
    still types the tensors between two blocked nodes FP16: each such edge becomes Cast(to FP16) then Cast(to FP32)
    (onnxruntime issue 21345 shows the same NaNs). That round trip saturates at 65504 and rounds to 11 bits, so
    "stays FP32" held for the ops but not for the values: PaDiM's squared Mahalanobis distances of a defect became
    inf, and inf through the bilinear resize and the blur became NaN scores. A Cast(to FP32) of a Cast(to FP16) now
    reads the first Cast's input directly (for any input type that only drops the rounding); a Cast of an FP32
    tensor to FP32 is bypassed, and Casts nothing reads any more are removed.
    """
    producer = {output: node for node in graph.node for output in node.output}
    for node in graph.node:
        source = producer.get(node.input[0]) if _cast_to(node) == TensorProto.FLOAT else None
        if source is not None and _cast_to(source) == TensorProto.FLOAT16:
            node.input[0] = source.input[0]
    _bypass_identity_casts(graph)
    _remove_unread_casts(graph)
    _sort_topologically(graph)


def _float_tensors(graph: onnx.GraphProto) -> set[str]:
    typed = [*graph.input, *graph.value_info]
    return ({info.name for info in typed if info.type.tensor_type.elem_type == TensorProto.FLOAT}
            | {tensor.name for tensor in graph.initializer if tensor.data_type == TensorProto.FLOAT})


def _bypass_identity_casts(graph: onnx.GraphProto) -> None:
    """Readers of a Cast(to FP32) of an FP32 tensor read that tensor (a graph output keeps its Cast: it names it)."""
    floats, graph_outputs = _float_tensors(graph), {output.name for output in graph.output}
    renamed = {node.output[0]: node.input[0] for node in graph.node
               if _cast_to(node) == TensorProto.FLOAT and node.input[0] in floats
               and node.output[0] not in graph_outputs}
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name in renamed:
                node.input[index] = renamed[name]


def _remove_unread_casts(graph: onnx.GraphProto) -> None:
    """Remove Casts whose outputs nothing reads (repeatedly: removing one can leave its input's Cast unread)."""
    graph_outputs = {output.name for output in graph.output}
    while True:
        read = {name for node in graph.node for name in node.input} | graph_outputs
        unread = [node for node in graph.node if node.op_type == "Cast" and not set(node.output) & read]
        if not unread:
            break
        for node in unread:
            graph.node.remove(node)
    produced = {name for node in graph.node for name in node.output}
    for info in [info for info in graph.value_info if info.name not in produced]:
        graph.value_info.remove(info)


def _sort_topologically(graph: onnx.GraphProto) -> None:
    """Order the nodes so each comes after the producers of its inputs, as ONNX requires (the converter appends
    its Casts at the end of the graph)."""
    available = {"", *(info.name for info in graph.input), *(tensor.name for tensor in graph.initializer)}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [node for node in pending if set(node.input) <= available]
        if not ready:
            raise ValueError(f"FP16 graph has a cycle or an unproduced input at node {pending[0].name}")
        for node in ready:
            available.update(node.output)
        ordered.extend(ready)
        ready_ids = {id(node) for node in ready}
        pending = [node for node in pending if id(node) not in ready_ids]
    del graph.node[:]
    graph.node.extend(ordered)
