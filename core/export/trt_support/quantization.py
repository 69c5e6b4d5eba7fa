"""The Q/DQ rule the tables state only in part: TensorRT's INT8 is symmetric.

The tables say a zero point must be 0 (checked from the restriction text) and that DequantizeLinear reads INT8
(checked from the types column), but not what QuantizeLinear must produce. Its output type is its zero point's type,
or UINT8 when the zero point is left out, which is what ONNX Runtime's CPU quantizer writes: such a graph is
refused for TensorRT even with a zero zero point. What QuantizeLinear may produce is what DequantizeLinear reads.
"""

from __future__ import annotations

import onnx

from core.export.trt_support.graph import GraphView, table_type_name
from core.export.trt_support.table import SupportTable


def quantize_output_problem(view: GraphView, node: onnx.NodeProto, table: SupportTable) -> tuple[str, str] | None:
    """(the refused type, what is wrong) for a QuantizeLinear node whose output TensorRT cannot take, or None."""
    if node.op_type != "QuantizeLinear" or "DequantizeLinear" not in table.rows:
        return None
    zero_point = view.input_named(node, "y_zero_point")
    if zero_point:
        elem_type = view.elem_types.get(zero_point)
        if elem_type is None:
            return None  # type unknown: the zero-point rule from the table still applies
        origin = f"its zero point '{zero_point}' is"
    elif view.is_set(node, "output_dtype"):
        elem_type, origin = view.attribute(node, "output_dtype"), "its output_dtype is"
    else:
        elem_type, origin = onnx.TensorProto.UINT8, "it has no zero point, so by ONNX's default it is"
    type_name = table_type_name(elem_type)
    allowed = table.rows["DequantizeLinear"].types
    if type_name in allowed:
        return None
    problem = (f"it quantizes to {type_name} ({origin} {type_name}); {table.version} quantization is symmetric and "
               f"takes {', '.join(sorted(allowed))} with zero point 0 (quantize for TensorRT, not for the CPU)")
    return type_name, problem
