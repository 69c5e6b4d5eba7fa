"""The CPU's INT8 path read from real cpuinfo files, and the 16-bit pair-sum check on real Q/DQ graphs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from core.runtime.integer_path import (
    IntegerPath,
    cpu_integer_path,
    saturating_nodes,
    saturation_warning,
)

X86_FLAGS = "fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma"


def cpuinfo(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test cpu\n{line}\n\nprocessor\t: 1\n{line}\n")
    return path


@pytest.mark.parametrize(("flags", "machine", "name", "saturates"), [
    (f"flags\t\t: {X86_FLAGS} avx512f avx512bw avx512_vnni", "x86_64", "x86 AVX512-VNNI", False),
    (f"flags\t\t: {X86_FLAGS} avx_vnni", "x86_64", "x86 AVX-VNNI", False),
    (f"flags\t\t: {X86_FLAGS} avx512f avx512bw", "x86_64", "x86 AVX-512 without VNNI", True),
    (f"flags\t\t: {X86_FLAGS}", "x86_64", "x86 AVX2 without VNNI", True),
    ("Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp", "aarch64", "arm64 dot product", False),
    ("Features\t: fp asimd evtstrm", "aarch64", "arm64 NEON", False),
])
def test_integer_path_from_cpu_flags(tmp_path, flags, machine, name, saturates) -> None:
    path = cpu_integer_path(cpuinfo(tmp_path, flags), machine)
    assert (path.name, path.saturates) == (name, saturates)


def test_this_machine_names_its_path() -> None:
    words = set(Path("/proc/cpuinfo").read_text().split())
    path = cpu_integer_path()
    if words & {"avx512_vnni", "avx_vnni"}:
        assert "VNNI" in path.name and not path.saturates
    elif "avx2" in words:
        assert path.saturates and "7-bit weights needed" in path.describe()


def qdq_conv(tmp_path: Path, weights: np.ndarray, activation: type = np.uint8) -> Path:
    """x -> Q/DQ (activation type) -> Conv with DQ'd int8 per-channel weights -> y: ONNX Runtime fuses it into
    QLinearConv when the output is quantized too."""
    zero = numpy_helper.from_array(np.array(0, activation), "zero")
    scale = numpy_helper.from_array(np.array(0.02, np.float32), "scale")
    w = numpy_helper.from_array(weights.astype(np.int8), "w_q")
    w_scale = numpy_helper.from_array(np.full(weights.shape[0], 0.01, np.float32), "w_scale")
    w_zero = numpy_helper.from_array(np.zeros(weights.shape[0], np.int8), "w_zero")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "scale", "zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
        helper.make_node("Conv", ["x_dq", "w_dq"], ["y"], name="the_conv"),
    ]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[zero, scale, w, w_scale, w_zero])
    path = tmp_path / f"conv-{np.dtype(activation).name}-{int(np.abs(weights).max())}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # a graph ONNX Runtime runs
    return path


def weights(largest: int) -> np.ndarray:
    values = np.random.default_rng(0).integers(-largest, largest + 1, (2, 4, 3, 3))
    values[0, 0, 0, 0] = largest
    return values


def test_full_range_weights_with_uint8_activations_overflow(tmp_path) -> None:
    found = saturating_nodes(qdq_conv(tmp_path, weights(127)))
    assert [(node.node, node.largest_pair_sum) for node in found] == [("the_conv", 2 * 255 * 127)]


@pytest.mark.parametrize(("largest", "activation"), [(64, np.uint8), (127, np.int8), (20, np.uint8)])
def test_seven_bit_weights_or_int8_activations_fit(tmp_path, largest, activation) -> None:
    assert saturating_nodes(qdq_conv(tmp_path, weights(largest), activation)) == []


def test_warning_only_where_the_path_saturates(tmp_path) -> None:
    graph = qdq_conv(tmp_path, weights(127))
    assert saturation_warning(graph, IntegerPath("x86 AVX512-VNNI", saturates=False)) is None
    warning = saturation_warning(graph, IntegerPath("x86 AVX2 without VNNI", saturates=True))
    assert warning and str(graph) in warning and "1 INT8 layers overflow" in warning and "Re-export" in warning
    assert saturation_warning(qdq_conv(tmp_path, weights(64)), IntegerPath("x86 AVX2", saturates=True)) is None
