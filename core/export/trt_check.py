"""Refuse an ONNX export that the Jetson's TensorRT would not parse, before it leaves this machine.

TensorRT cannot run here, so its ONNX parser is stood in for by its own operator support tables
(`resources/onnx_tensorrt/`, read at run time): every node's operator must be listed and marked Y, the restrictions
that the graph alone decides must hold (constant `K`/`axes` inputs, zero zero points, Resize and pooling modes,
unset unsupported attributes), and element types must be ones the target takes. On top of the tables: the model's
opset must be one the target parses (17 at most for TensorRT 8.5), operators outside the standard ONNX domain
(ONNX Runtime's com.microsoft fusions) are refused, and Q/DQ must be symmetric INT8.

What the tables cannot settle statically (If branch shapes, dynamic-shape limits, plugin availability) is left to
the engine build on the device.

Targets: "tensorrt8" (TensorRT 8.5, JetPack 5.1, Xavier NX) and "tensorrt10" (the 10.1 table, for 10.3 on Orin).

Example:
    >>> findings = check_onnx_for_tensorrt(Path("model.onnx"), "tensorrt8")
    >>> [str(finding) for finding in findings]
    ["/TopK (TopK): input 'K' ('/Cast_output_0') is computed in the graph, not an initializer; the TensorRT 8.5
      table says: `K` input must be an initializer"]
    >>> assert_tensorrt_compatible(Path("model.onnx"), "tensorrt8")  # raises InputError naming /TopK
"""

from __future__ import annotations

from pathlib import Path

import onnx

from core.errors import InputError
from core.export.trt_support.check import find_problems
from core.export.trt_support.finding import Finding
from core.export.trt_support.table import TARGETS, get_target

__all__ = ["TARGETS", "Finding", "assert_tensorrt_compatible", "check_onnx_for_tensorrt"]

_LISTED = 25  # findings spelled out in an error message; a graph this broken needs a look, not a longer list


def check_onnx_for_tensorrt(model: onnx.ModelProto | Path, target: str) -> list[Finding]:
    """Everything `target`'s TensorRT would refuse in `model` (a loaded model or an .onnx file); empty when none."""
    get_target(target)  # an unknown target is the user's mistake, reported before any file is read
    return find_problems(_loaded(model), target)


def assert_tensorrt_compatible(model: onnx.ModelProto | Path, target: str) -> None:
    """Raise InputError naming every node `target`'s TensorRT would refuse, so that the export stops there."""
    findings = check_onnx_for_tensorrt(model, target)
    if not findings:
        return
    where = str(model) if isinstance(model, (str, Path)) else f"ONNX graph '{model.graph.name or 'unnamed'}'"
    lines = [f"  - {finding}" for finding in findings[:_LISTED]]
    if len(findings) > _LISTED:
        lines.append(f"  ... and {len(findings) - _LISTED} more")
    raise InputError(f"{where}: not accepted for {get_target(target).description}, "
                     f"{len(findings)} problem(s):\n" + "\n".join(lines))


def _loaded(model: onnx.ModelProto | Path) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    try:
        return onnx.load(str(model))
    except Exception as error:  # noqa: BLE001 - protobuf and file errors vary; the user needs the file and reason
        raise InputError(f"{model}: not a readable ONNX model ({error})") from None
