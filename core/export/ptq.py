"""INT8 post-training quantization of an exported graph with ONNX Runtime's static quantizer, in Q/DQ format.

Two flavours, because the two places it runs want different things:
- "cpu": uint8 asymmetric activations, int8 per-channel weights — what ONNX Runtime runs fast on x86.
- "tensorrt": int8 symmetric activations and weights, zero points 0 — what TensorRT's explicit quantization takes.
Only the backbone's convolutions are quantized. The anomaly-map arithmetic (feature normalisation, distances, the
Gaussian blur, the image score) stays FP32: it is cheap, and quantizing a difference of two features destroys it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from core.errors import InputError

FLAVOURS = ("cpu", "tensorrt")
RANGE_METHODS = ("minmax", "entropy", "percentile")
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
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if flavour not in FLAVOURS:
        raise InputError(f"unknown quantization flavour '{flavour}' (choose from {', '.join(FLAVOURS)})")
    if range_method not in RANGE_METHODS:
        raise InputError(f"unknown range method '{range_method}' (choose from {', '.join(RANGE_METHODS)})")
    graph = onnx.load(str(fp32_path))
    input_name = graph.graph.input[0].name
    excluded = [node.name for node in graph.graph.node if node.name.startswith(FP32_ONLY_PREFIXES)]
    symmetric = flavour == "tensorrt"
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    quantize_static(
        str(fp32_path),
        str(out_path),
        _ArrayReader(input_name, calibration),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["Conv"],
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
    return Path(out_path)
