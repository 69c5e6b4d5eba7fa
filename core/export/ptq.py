"""INT8 post-training quantization of an exported graph with ONNX Runtime's static quantizer, in Q/DQ format.

Two flavours, because the two places it runs want different things:
- "cpu": uint8 asymmetric activations, int8 per-channel weights — what ONNX Runtime runs fast on x86.
- "tensorrt": int8 symmetric activations and weights, zero points 0 — what TensorRT's explicit quantization takes.
The networks' convolutions, ReLU6 clips and residual additions are quantized, so that INT8 flows from one
convolution to the next; the anomaly-map arithmetic (feature normalisation, distances, the Gaussian blur, the image
score) stays FP32: it is cheap, and quantizing a difference of two features destroys it.

The graph first goes through ONNX Runtime's quantization pre-processing (shape inference and its hardware-independent
optimisations), which folds each 'SAME' Pad into its Conv: left in place, every Pad would sit between a
DequantizeLinear and a QuantizeLinear and break the INT8 chain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from core.errors import InputError

FLAVOURS = ("cpu", "tensorrt")
RANGE_METHODS = ("minmax", "entropy", "percentile")
QUANTIZED_OPERATORS = ["Conv", "Clip", "Add"]
FP32_ONLY_PREFIXES = ("/blur/",)  # the map's Gaussian blur is a convolution too, but part of the arithmetic


class _ArrayReader:
    """onnxruntime's CalibrationDataReader protocol over an array of inputs, one image per call."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._items = iter([{input_name: inputs[index : index + 1]} for index in range(len(inputs))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)

    def rewind(self) -> None:  # part of the protocol; the quantizer reads the data once
        pass


def quantize_ptq(
    fp32_path: Path, out_path: Path, calibration: np.ndarray, flavour: str = "cpu", range_method: str = "minmax"
) -> Path:
    """Write an INT8 Q/DQ copy of `fp32_path` at `out_path`, calibrated on `calibration` (N x 3 x S x S float32)."""
    if flavour not in FLAVOURS:
        raise InputError(f"unknown quantization flavour '{flavour}' (choose from {', '.join(FLAVOURS)})")
    if range_method not in RANGE_METHODS:
        raise InputError(f"unknown range method '{range_method}' (choose from {', '.join(RANGE_METHODS)})")
    prepared = Path(out_path).with_name(Path(out_path).stem + ".prepared.onnx")
    try:
        _quantize(fp32_path, prepared, out_path, calibration, flavour, range_method)
    finally:
        prepared.unlink(missing_ok=True)
    return Path(out_path)


def _quantize(fp32_path: Path, prepared: Path, out_path: Path, calibration: np.ndarray, flavour: str,
              range_method: str) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # ONNX's own shape inference is enough for a fixed-size CNN; the symbolic one gives up on shape arithmetic
    # (graphs saved before 'SAME' padding became constant have plenty).
    try:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    except Exception as error:  # onnxruntime's tools raise bare Exceptions
        raise InputError(f"{fp32_path}: ONNX Runtime's quantization pre-processing failed ({error})") from None
    graph = onnx.load(str(prepared))
    input_name = graph.graph.input[0].name
    excluded = [node.name for node in graph.graph.node if is_fp32_arithmetic(node.name)]
    symmetric = flavour == "tensorrt"
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    quantize_static(
        str(prepared),
        str(out_path),
        _ArrayReader(input_name, calibration),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=QUANTIZED_OPERATORS,
        nodes_to_exclude=excluded,
        per_channel=True,
        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=methods[range_method],
        extra_options={
            "ActivationSymmetric": symmetric,
            "WeightSymmetric": True,
            "CalibTensorRangeSymmetric": symmetric,
            "CalibMovingAverage": False,
            # TensorRT dequantizes int8 only; it folds the FP32 bias into the INT8 convolution itself.
            "QuantizeBias": not symmetric,
        },
        calibration_providers=["CPUExecutionProvider"],
    )


def is_fp32_arithmetic(node_name: str) -> bool:
    """Nodes of the anomaly-map arithmetic: the forward's own operations (one scope deep, "/Sub_2", "/Clip_1") and
    the blur. Everything deeper ("/teacher/layers.3/Add") belongs to a network."""
    return node_name.count("/") < 2 or node_name.startswith(FP32_ONLY_PREFIXES)
