"""Check every node of an ONNX model against one TensorRT target's operator table.

Order of judgement per node: a non-standard domain (ONNX Runtime's com.microsoft contrib ops) or an operator the
table does not list or marks N ends the node's checks; otherwise its restrictions, its element types and the Q/DQ
symmetry rule are each checked. The model's opset is checked once.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import onnx

from core.export.trt_support.dtypes import graph_io_type_findings, node_type_findings
from core.export.trt_support.finding import Finding
from core.export.trt_support.graph import STANDARD_DOMAINS, GraphView
from core.export.trt_support.quantization import quantize_output_problem
from core.export.trt_support.restrictions import Rule, compile_restrictions
from core.export.trt_support.table import SupportTable, get_target, load_table

MODEL = "(model)"


def find_problems(model: onnx.ModelProto, target: str) -> list[Finding]:
    """Every reason `target`'s TensorRT would refuse `model`, in graph order."""
    table = load_table(target)
    view = GraphView.of(model)
    findings = [*_opset_findings(view, table, target), *graph_io_type_findings(view, table)]
    for node in view.nodes:
        findings += _node_findings(view, node, table, target)
    return findings


def _opset_findings(view: GraphView, table: SupportTable, target: str) -> Iterator[Finding]:
    if view.opset > table.max_opset or view.opset < table.min_opset:
        yield Finding(MODEL, "opset", (
            f"the model uses ONNX opset {view.opset}; {get_target(target).description} parses opsets "
            f"{table.min_opset} to {table.max_opset} ({table.source}): export with opset_version={table.max_opset}"))


def _node_findings(view: GraphView, node: onnx.NodeProto, table: SupportTable, target: str) -> Iterator[Finding]:
    label = view.label(node)
    if node.domain not in STANDARD_DOMAINS:
        yield Finding(label, node.op_type, (
            f"operator from the '{node.domain}' domain (an ONNX Runtime or vendor extension); TensorRT parses "
            f"standard ONNX operators only, so it would need a plugin: export without runtime-specific fusions"))
        return
    row = table.rows.get(node.op_type)
    if row is None:
        yield Finding(label, node.op_type, f"{node.op_type} is not in the {table.version} operator table "
                                           f"({table.source}), so its ONNX parser has no importer for it")
        return
    if not row.supported:
        yield Finding(label, node.op_type, f"{table.version} does not support {node.op_type} "
                                           f"(marked N in {table.source})")
        return
    for rule in _rules(target, node.op_type):
        problem = rule.check(view, node)
        if problem:
            yield Finding(label, node.op_type, f"{problem}; the {table.version} table says: {rule.sentence}")
    quantized = quantize_output_problem(view, node, table)
    if quantized:
        yield Finding(label, node.op_type, quantized[1])
    yield from node_type_findings(view, node, table, explained=frozenset({quantized[0]} if quantized else ()))


@lru_cache(maxsize=None)
def _rules(target: str, op_type: str) -> tuple[Rule, ...]:
    return compile_restrictions(load_table(target).rows[op_type])[0]
