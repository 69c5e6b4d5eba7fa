"""FP16 graph for runtimes that execute half precision (GPUs, TensorRT); the input and outputs stay float32.

Only the method's networks (as its spec declares them) are converted: anomaly-map arithmetic such as STFPM's product
of small squared distances underflows in half precision, and distances to a memory bank lose their ordering; all
of it stays FP32.
On TensorRT the usual way is the FP32 graph built with `--fp16`; this graph serves ONNX Runtime and fixed-type builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import onnx

from core.export.scopes import in_modules


def convert_to_fp16(fp32_path: Path, out_path: Path, networks: Sequence[str]) -> Path:
    """Write a copy of `fp32_path` whose `networks` (module paths, see `core.export.scopes`) run in float16."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    fp32_nodes = [node.name for node in model.graph.node if not in_modules(node.name, networks)]
    half = convert_float_to_float16(model, keep_io_types=True, node_block_list=fp32_nodes)
    _drop_repeated_casts(half.graph)
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
