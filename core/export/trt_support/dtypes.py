"""Element-type checks: the data types a TensorRT version takes at all (the table's header), and those each
operator runs on (its "Supported Types" column).

The header's "limited support" types are accepted as TensorRT converts them: on 8.5, INT64 is read as INT32 (fine
for shapes and indices, which is all our graphs hold in INT64) and DOUBLE as FP32, so a per-operator check sees the
converted type. A type the header lists only for network inputs and outputs (UINT8 on 10.x) is refused inside the
graph.

The column describes an operator's main data tensor: its first input whose type is a free type variable of the ONNX
schema (Where's `X`, not its boolean condition; TopK's `X`, not the INT64 `K`). For operators without such an input
(ConstantOfShape, RandomNormal) it is the first such output; for Cast, whose column lists what it converts between,
both the input and the output.
"""

from __future__ import annotations

from collections.abc import Iterator

import onnx

from core.export.trt_support.finding import Finding
from core.export.trt_support.graph import GraphView
from core.export.trt_support.table import SupportTable

_CHECKS_OUTPUT_TOO = frozenset({"Cast", "CastLike"})
# Where a table's column is narrower than the parser it documents. ConstantOfShape lists FP32 on 8.5, but the
# 8.x importer builds its fill value with convertToTensor, which takes any weight type the parser reads (INT64 as
# INT32, BOOL); torch's exporter writes INT64 ConstantOfShape nodes for padding sizes.
_PARSER_TAKES_MORE = {"ConstantOfShape": frozenset({"FP32", "FP16", "INT32", "BOOL"})}


def graph_io_type_findings(view: GraphView, table: SupportTable) -> Iterator[Finding]:
    """Graph inputs and outputs whose type TensorRT does not take at all."""
    for kind, names in (("graph input", view.graph_inputs), ("graph output", view.graph_outputs)):
        for name in sorted(names):
            type_name = view.type_name(name)
            if type_name and type_name not in table.data_types:
                yield Finding(name, kind, f"it is {type_name}; {table.version} takes only "
                                          f"{_listing(table.data_types)} ({table.source} header)")


def node_type_findings(view: GraphView, node: onnx.NodeProto, table: SupportTable,
                       explained: frozenset[str] = frozenset()) -> Iterator[Finding]:
    """Types of the node's tensors against the operator's column, then the header's list. A type already reported
    for this node (by the column, or in `explained` by another rule) is not reported again."""
    column = list(_column_findings(view, node, table))
    yield from (finding for finding, _ in column)
    yield from _header_findings(view, node, table, explained | {type_name for _, type_name in column})


def _column_findings(view: GraphView, node: onnx.NodeProto, table: SupportTable) -> Iterator[tuple[Finding, str]]:
    row = table.rows[node.op_type]
    allowed = row.types | _PARSER_TAKES_MORE.get(node.op_type, frozenset())
    for role, tensor in _typed_tensors(view, node) if allowed else ():
        type_name = view.type_name(tensor)
        as_read = table.cast_down.get(type_name, type_name)
        if type_name is not None and as_read not in allowed:
            read_note = f" (read as {as_read})" if as_read != type_name else ""
            problem = (f"its {role} ('{tensor}') is {type_name}{read_note}; {table.version} runs {node.op_type} on "
                       f"{_listing(row.types)} only")
            yield Finding(view.label(node), node.op_type, problem), type_name


def _header_findings(view: GraphView, node: onnx.NodeProto, table: SupportTable,
                     reported: frozenset[str]) -> Iterator[Finding]:
    refused: dict[str, list[str]] = {}
    for tensor in _own_tensors(view, node):
        type_name = view.type_name(tensor)
        if type_name and type_name not in reported and (type_name not in table.data_types
                                                        or type_name in table.io_only):
            refused.setdefault(type_name, []).append(tensor)
    for type_name, tensors in refused.items():
        if type_name in table.io_only:
            why = f"{table.version} allows {type_name} only on network inputs and outputs"
        else:
            why = f"{table.version} takes only {_listing(table.data_types)} ({table.source} header)"
        names = ", ".join(f"'{tensor}'" for tensor in tensors)
        verb = "is" if len(tensors) == 1 else "are"
        yield Finding(view.label(node), node.op_type, f"tensor {names} {verb} {type_name}; {why}")


def _own_tensors(view: GraphView, node: onnx.NodeProto) -> Iterator[str]:
    """The node's outputs and constant inputs: each tensor is then judged once, where it is made or first stored
    (graph inputs and outputs are judged on their own)."""
    boundary = view.graph_inputs | view.graph_outputs
    for tensor in (*[t for t in node.input if view.is_constant(t)], *node.output):
        if tensor and tensor not in boundary:
            yield tensor


def _typed_tensors(view: GraphView, node: onnx.NodeProto) -> Iterator[tuple[str, str]]:
    """(role, tensor) pairs that the operator's "Supported Types" column is about."""
    schema = view.schema(node)
    if schema is None:
        if node.input and node.input[0]:
            yield "input", node.input[0]
        return
    free = {c.type_param_str for c in schema.type_constraints if len(c.allowed_type_strs) > 1}
    main_input = _first_free(schema.inputs, node.input, free)
    if main_input:
        yield f"input '{main_input[0]}'", main_input[1]
    if main_input is None or node.op_type in _CHECKS_OUTPUT_TOO:
        main_output = _first_free(schema.outputs, node.output, free)
        if main_output:
            yield f"output '{main_output[0]}'", main_output[1]


def _first_free(formals, actual, free: set[str]) -> tuple[str, str] | None:
    for index, formal in enumerate(formals):
        if formal.type_str in free and index < len(actual) and actual[index]:
            return formal.name, actual[index]
        if formal.option == onnx.defs.OpSchema.FormalParameterOption.Variadic:
            break  # past a variadic parameter, positions no longer match formals
    return None


def _listing(types: frozenset[str]) -> str:
    return ", ".join(sorted(types))
