"""The report an export leaves beside its graph: what the variant is, what it costs against FP32, what was checked.

It goes into the bundle twice: as the manifest's "report" entry (for tools) and as `report.md` (for people, and
for the device, where there is no window to show it).

Example:
    >>> report = variant_report(spec, fp32_graph, graph, drift, fp32_thresholds, thresholds, seconds=12.5)
    >>> report["graph_bytes"] / report["fp32_graph_bytes"]
    0.29
    >>> print(report_markdown("int8-ptq-heldout-cpu", report))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import onnx

from core.export.trt_support.table import get_target
from core.model_manifest import Thresholds
from core.runtime.integer_path import saturating_nodes

if TYPE_CHECKING:  # variants.py writes the report; importing it here at run time would be circular
    from core.export.variants import VariantSpec

REPORT_FILE = "report.md"


def variant_report(
    spec: VariantSpec, fp32_graph: Path, graph: Path, drift: dict[str, float] | None,
    fp32_thresholds: Thresholds, thresholds: Thresholds, seconds: float,
) -> dict[str, Any]:
    """Facts about the variant graph at `graph` made from the model's FP32 graph `fp32_graph`."""
    model = onnx.load(str(graph), load_external_data=False)
    nodes = model.graph.node
    operators = Counter(node.op_type for node in nodes)
    outputs_of_dequantize = {node.output[0] for node in nodes if node.op_type == "DequantizeLinear"}
    convolutions = [node for node in nodes if node.op_type == "Conv"]
    return {
        "variant": {**asdict(spec), "name": spec.name},
        "fp32_graph_bytes": Path(fp32_graph).stat().st_size,
        "graph_bytes": Path(graph).stat().st_size,
        "nodes": len(nodes),
        "operators": dict(sorted(operators.items())),
        "convolutions": len(convolutions),
        # a convolution runs in INT8 when its weights arrive through a DequantizeLinear
        "int8_convolutions": sum(len(node.input) > 1 and node.input[1] in outputs_of_dequantize
                                 for node in convolutions),
        "tensorrt_check": (f"passed: {len(nodes)} nodes checked against the operator table of "
                           f"{get_target(spec.target).description}"
                           if spec.target.startswith("tensorrt") else "not applicable (CPU target)"),
        # Layers whose 8-bit products overflow the 16-bit pair sums of CPUs without VNNI (none for this version's
        # exports; a count here means the graph is only right on VNNI CPUs and on TensorRT).
        "int8_pair_sum_overflows": len(saturating_nodes(model)),
        "fp32_drift": drift,
        "thresholds": {"fp32": fp32_thresholds.image, "variant": thresholds.image},
        "export_seconds": round(seconds, 1),
    }


def report_markdown(title: str, report: dict[str, Any]) -> str:
    """`report` as a short Markdown page."""
    spec = report["variant"]
    ratio = report["graph_bytes"] / report["fp32_graph_bytes"]
    how = {"ptq": f"post-training quantization, calibrated on {spec['calibration_samples']} {spec['calibration']} "
                  f"inputs ({spec['range_method']} ranges)",
           "qat": f"quantization-aware training, {spec['qat_epochs']} epochs"}.get(spec["method"], "no quantization")
    drift = report["fp32_drift"]
    drift_line = (f"{drift['max_relative_score_drift']:.3g} largest relative score change on {drift['images']} "
                  "normal images (held-out, or a sample of the training ones)" if drift
                  else "unknown (the training folders were not reachable)")
    operators = ", ".join(f"{name} {count}" for name, count in sorted(report["operators"].items(),
                                                                      key=lambda item: -item[1]))
    return "\n".join([
        f"# {title}",
        "",
        f"- precision: {spec['precision'].upper()}, {how}; target: {spec['target']}",
        f"- graph: {report['graph_bytes'] / 1e6:.2f} MB, {ratio:.2f}x the FP32 graph "
        f"({report['fp32_graph_bytes'] / 1e6:.2f} MB); {report['nodes']} nodes",
        f"- convolutions in INT8: {report['int8_convolutions']} of {report['convolutions']}",
        f"- TensorRT operator check: {report['tensorrt_check']}",
        f"- CPUs without VNNI (16-bit pair sums): {_pair_sums(report)}",
        f"- drift from FP32: {drift_line}",
        f"- image threshold: {_number(report['thresholds']['variant'])} "
        f"(FP32: {_number(report['thresholds']['fp32'])}), chosen again for this variant",
        f"- export took {report['export_seconds']} s",
        "",
        f"Operators: {operators}.",
        "",
    ])


def _pair_sums(report: dict[str, Any]) -> str:
    if report["int8_convolutions"] == 0:
        return "not applicable (no INT8 layers)"
    overflows = report["int8_pair_sum_overflows"]
    return ("safe: every INT8 layer fits" if not overflows
            else f"{overflows} INT8 layers overflow: right only on CPUs with VNNI and on TensorRT")


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else "n/a"
