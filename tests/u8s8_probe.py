"""Does ONNX Runtime's U8S8 integer arithmetic saturate on this CPU? Tiny graphs against exact integer results.

On x86 without VNNI, MLAS multiplies u8 activations by s8 weights with VPMADDUBSW, which adds each pair of
products in signed 16 bits and saturates: 255 * 127 * 2 = 64770 > 32767. With 7-bit weights (|w| <= 64) a pair
is at most 255 * 64 * 2 = 32640 and fits. Inputs here sit near 255 and weights near the limit, so every pair
overflows when it can; the exact results come from numpy in int64.

Run as a script (natively or under tests/no_vnni.py's emulator) it prints one JSON object:
`python tests/u8s8_probe.py 127 64` -> {"cpu": {...}, "127": {"matmul_integer": 0, ...}, "64": {...}}.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
KERNEL = 3


def _session(model: onnx.ModelProto, precise: bool,
             optimized_path: Path | None = None) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # saving the optimized graph warns that it is hardware specific; we know
    # ONNX Runtime's own guard: weights become u8 and the non-saturating U8U8 kernels run (where MLAS thinks U8S8
    # can overflow, which by its coarse test includes AVX512-VNNI machines).
    options.add_session_config_entry("session.x64quantprecision", "1" if precise else "0")
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _weights(rng: np.random.Generator, shape: tuple[int, ...], limit: int, signed: bool) -> np.ndarray:
    """int8 weights of magnitude limit-7..limit; with `signed`, random signs (pairs overflow both ways)."""
    magnitude = rng.integers(limit - 7, limit + 1, shape)
    sign = rng.choice([-1, 1], shape) if signed else 1
    return (sign * magnitude).astype(np.int8)


def matmul_integer_error(rng: np.random.Generator, limit: int, precise: bool) -> int:
    """Largest |ORT - exact| of MatMulInteger (u8 x s8 -> int32 accumulators, no rounding anywhere)."""
    a = rng.integers(240, 256, (4, 64), dtype=np.uint8)
    b = _weights(rng, (64, 16), limit, signed=True)
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "matmul_integer",
                              [helper.make_tensor_value_info("a", TensorProto.UINT8, a.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                              [numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    result = _session(model, precise).run(None, {"a": a})[0]
    return int(np.abs(result.astype(np.int64) - a.astype(np.int64) @ b.astype(np.int64)).max())


def _qdq_conv_model(shape: tuple[int, ...], weights: np.ndarray, output_scale: float, group: int) -> onnx.ModelProto:
    """DQ(u8 input) and DQ(int8 per-channel weights) -> Conv -> Q(u8): the pattern our CPU exports have, which ONNX
    Runtime fuses into QLinearConv. Scales are 1 and zero points 0, so the float graph is integer arithmetic."""
    channels = weights.shape[0]
    initializers = [numpy_helper.from_array(np.array(1.0, np.float32), "one"),
                    numpy_helper.from_array(np.array(0, np.uint8), "zero_u8"),
                    numpy_helper.from_array(weights, "w_q"),
                    numpy_helper.from_array(np.ones(channels, np.float32), "w_scale"),
                    numpy_helper.from_array(np.zeros(channels, np.int8), "w_zero"),
                    numpy_helper.from_array(np.array(output_scale, np.float32), "y_scale")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "one", "zero_u8"], ["x_f"]),
             helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_f"], axis=0),
             helper.make_node("Conv", ["x_f", "w_f"], ["conv"], group=group),
             helper.make_node("QuantizeLinear", ["conv", "y_scale", "zero_u8"], ["y"])]
    graph = helper.make_graph(nodes, "qdq_conv", [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def qdq_conv_error(rng: np.random.Generator, limit: int, precise: bool, depthwise: bool = False) -> int:
    """Largest |ORT - exact| of a fused Q/DQ 3x3 convolution, in output quantization steps (u8).

    Weights are all positive so the exact sums are large and survive the u8 output; the output scale puts the
    largest exact sum at 250. Raises AssertionError when ONNX Runtime did not fuse the pattern into QLinearConv
    (then the integer kernels were never exercised)."""
    channels = 16 if depthwise else 8
    x = rng.integers(240, 256, (1, channels, 6, 6), dtype=np.uint8)
    w = _weights(rng, (channels if depthwise else 4, 1 if depthwise else channels, KERNEL, KERNEL), limit, False)
    windows = sliding_window_view(x[0].astype(np.int64), (KERNEL, KERNEL), axis=(1, 2))  # C x 4 x 4 x 3 x 3
    if depthwise:
        exact = np.einsum("chwij,cij->chw", windows, w[:, 0].astype(np.int64))
    else:
        exact = np.einsum("chwij,ocij->ohw", windows, w.astype(np.int64))
    output_scale = float(exact.max()) / 250.0
    model = _qdq_conv_model(x.shape, w, output_scale, group=channels if depthwise else 1)
    with tempfile.TemporaryDirectory() as folder:
        optimized = Path(folder) / "optimized.onnx"
        result = _session(model, precise, optimized).run(None, {"x": x})[0]
        operators = [node.op_type for node in onnx.load(str(optimized)).graph.node]
    assert "QLinearConv" in operators, f"ONNX Runtime did not fuse the Q/DQ convolution: {operators}"
    expected = np.clip(np.rint(exact / np.float32(output_scale)), 0, 255)
    return int(np.abs(result[0].astype(np.int64) - expected).max())


def measure(limit: int, precise: bool = False, seed: int = 0) -> dict[str, int]:
    """Largest error of each integer path with weights of magnitude up to `limit` (127 = full int8 range)."""
    rng = np.random.default_rng(seed)
    return {"matmul_integer": matmul_integer_error(rng, limit, precise),
            "qlinear_conv": qdq_conv_error(rng, limit, precise),
            "depthwise_qlinear_conv": qdq_conv_error(rng, limit, precise, depthwise=True)}


def cpu_features() -> dict[str, bool]:
    """What numpy's CPUID probe sees (under the emulator: the emulated CPU model)."""
    from numpy._core._multiarray_umath import __cpu_features__

    return {name: bool(__cpu_features__.get(name)) for name in ("AVX2", "AVX512F", "AVX512VNNI")}


def main(arguments: list[str]) -> None:
    """Arguments: weight limits, each optionally suffixed `:precise` for session.x64quantprecision=1."""
    report: dict[str, object] = {"cpu": cpu_features()}
    for argument in arguments:
        limit, _, option = argument.partition(":")
        report[argument] = measure(int(limit), precise=option == "precise")
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
