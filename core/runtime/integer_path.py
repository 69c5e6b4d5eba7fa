"""Which integer path this CPU gives ONNX Runtime's INT8 kernels, and whether a Q/DQ graph is safe on every path.

ONNX Runtime (MLAS) multiplies an 8-bit activation by an 8-bit weight in one of two ways on x86:
- with VNNI (AVX512-VNNI, or AVX-VNNI on recent desktop parts), `vpdpbusd` adds four u8 x s8 products straight
  into 32 bits: nothing can overflow;
- without it (AVX2 only, or AVX-512 without VNNI), `vpmaddubsw` first adds PAIRS of u8 x s8 products in signed 16
  bits, with saturation. With uint8 activations (0..255) and full-range int8 weights the pair reaches
  2 x 255 x 127 = 64,770, far above 32,767: the sums clip silently and an INT8 model that is accurate on a VNNI
  machine scores nonsense on an AVX2 one (issue 9: bottle image AUROC 1.00 -> 0.67).
A pair stays in range when 2 x max|activation| x max|weight| <= 32,767, i.e. |weight| <= 64 with uint8
activations (7-bit weights, `CPU_WEIGHT_RANGE`) or |weight| <= 127 with int8 activations (|a| <= 128).
Arm's kernels (a Jetson's CPU) widen every product to 32 bits (`sdot`/`udot`, or `smull` + pairwise long adds), so
they do not saturate; the limit is an x86 one, but a bundle is judged by it wherever it runs, because bundles move.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # onnx is imported where a graph is read: the runtime path may not need it
    import onnx

INT16_MAX = 32767
# The weight range for CPU-flavoured INT8 (ONNX Runtime's `reduce_range`): 2 x 255 x 64 = 32,640 <= 32,767.
CPU_WEIGHT_RANGE = (-64, 64)
_LARGEST_ACTIVATION = {np.dtype(np.uint8): 255, np.dtype(np.int8): 128}
_WEIGHTED_OPS = ("Conv", "ConvInteger", "MatMul", "Gemm")


@dataclass(frozen=True)
class IntegerPath:
    """This CPU's INT8 multiply-add path: `name` for the readouts, `saturates` when pairs add in 16 bits."""

    name: str
    saturates: bool

    def describe(self) -> str:
        return f"{self.name} (16-bit pair sums: 7-bit weights needed)" if self.saturates else self.name


def cpu_integer_path(cpuinfo: Path = Path("/proc/cpuinfo"), machine: str | None = None) -> IntegerPath:
    """The INT8 path ONNX Runtime takes here, read from the CPU flags the kernel reports."""
    machine = (machine or platform.machine()).lower()
    flags = _cpu_flags(cpuinfo)
    if machine in ("aarch64", "arm64"):
        return IntegerPath("arm64 dot product" if "asimddp" in flags else "arm64 NEON", saturates=False)
    if machine not in ("x86_64", "amd64", "i686", "x86"):
        return IntegerPath(f"{machine} (integer path unknown)", saturates=False)
    if "avx512_vnni" in flags:
        return IntegerPath("x86 AVX512-VNNI", saturates=False)
    if "avx_vnni" in flags:
        return IntegerPath("x86 AVX-VNNI", saturates=False)
    if "avx512bw" in flags:
        return IntegerPath("x86 AVX-512 without VNNI", saturates=True)
    if "avx2" in flags:
        return IntegerPath("x86 AVX2 without VNNI", saturates=True)
    return IntegerPath("x86 SSE" if flags else "x86 (flags unknown)", saturates=bool(flags))


def _cpu_flags(cpuinfo: Path) -> set[str]:
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 and Arm spell it differently
            return set(value.split())
    return set()


@dataclass(frozen=True)
class SaturatingNode:
    """A weighted node whose largest activation x weight pair can leave 16 bits."""

    node: str
    largest_pair_sum: int


def saturating_nodes(graph: Path | onnx.ModelProto) -> list[SaturatingNode]:
    """The Q/DQ graph's weighted nodes (Conv, MatMul, Gemm) whose 8-bit input and int8 weight can add a pair of
    products beyond 32,767: the nodes that give wrong results on a CPU without VNNI. Empty for a safe graph, and
    for FP32/FP16 graphs (nothing is 8-bit). `graph` is a path or an already loaded model."""
    import onnx
    from onnx import numpy_helper

    model = graph if isinstance(graph, onnx.ModelProto) else onnx.load(str(graph), load_external_data=False)
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    for node in model.graph.node:  # the exporters write some zero points and weights as Constant nodes
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants.setdefault(node.output[0], node.attribute[0].t)
    dequantized = {node.output[0]: node for node in model.graph.node if node.op_type == "DequantizeLinear"}

    def quantized_dtype(value: str) -> np.dtype | None:
        """dtype of the integer tensor a DequantizeLinear turns into `value`, read from its zero point (or its
        input when that is a constant)."""
        source = dequantized.get(value)
        if source is None:
            return None
        if len(source.input) > 2 and source.input[2] in constants:
            return numpy_helper.to_array(constants[source.input[2]]).dtype
        if source.input[0] in constants:
            return numpy_helper.to_array(constants[source.input[0]]).dtype
        return np.dtype(np.uint8)  # ONNX's default zero point type

    found = []
    for node in model.graph.node:
        if node.op_type not in _WEIGHTED_OPS or len(node.input) < 2:
            continue
        activation, weight = quantized_dtype(node.input[0]), dequantized.get(node.input[1])
        if activation not in _LARGEST_ACTIVATION or weight is None or weight.input[0] not in constants:
            continue
        weights = numpy_helper.to_array(constants[weight.input[0]])
        if weights.dtype != np.int8:
            continue
        pair_sum = 2 * _LARGEST_ACTIVATION[activation] * int(np.abs(weights.astype(np.int32)).max(initial=0))
        if pair_sum > INT16_MAX:
            found.append(SaturatingNode(node.name or node.output[0], pair_sum))
    return found


def saturation_warning(graph_path: Path, path: IntegerPath) -> str | None:
    """A one-line warning when the graph at `graph_path` gives wrong INT8 results on `path`, else None."""
    if not path.saturates:
        return None
    nodes = saturating_nodes(graph_path)
    if not nodes:
        return None
    return (f"{graph_path}: {len(nodes)} INT8 layers overflow 16-bit sums on this CPU ({path.name}); scores will "
            "be wrong. Re-export it with this version (7-bit weights for the CPU flavour)")
