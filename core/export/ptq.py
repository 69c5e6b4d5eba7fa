"""INT8 post-training quantization of an exported graph with ONNX Runtime's static quantizer, in Q/DQ format.

Two flavours, because the two places it runs want different things:
- "cpu": uint8 asymmetric activations, int8 per-channel weights in 7 bits ([-64, 64]) — what ONNX Runtime runs fast
  on x86, and correct on every x86 CPU: without VNNI its kernels add pairs of u8 x s8 products in 16 bits, which
  full-range weights overflow (see `core.runtime.integer_path`).
- "tensorrt": int8 symmetric activations and weights, zero points 0 — what TensorRT's explicit quantization takes.
The networks' convolutions, ReLU6 clips and residual additions (the networks the method's spec declares) are
quantized, so that INT8 flows from one convolution to the next; the anomaly-map arithmetic (feature normalisation,
distances, the Gaussian blur, the image score) stays FP32: it is cheap, and quantizing a difference of two features
destroys it.

The graph first goes through ONNX Runtime's quantization pre-processing (shape inference and its hardware-independent
optimisations), which folds each 'SAME' Pad into its Conv: left in place, every Pad would sit between a
DequantizeLinear and a QuantizeLinear and break the INT8 chain.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx

from core.errors import InputError
from core.export.scopes import in_modules

FLAVOURS = ("cpu", "tensorrt")
RANGE_METHODS = ("minmax", "entropy", "percentile")
QUANTIZED_OPERATORS = ["Conv", "Clip", "Add"]
# Histogram settings for the range methods that use one: 2048 bins as TensorRT's and PyTorch's calibrators use; the
# entropy search over 128 quantized bins, the percentile at 99.999 %.
HISTOGRAM_SETTINGS = {"entropy": {"num_bins": 2048, "num_quantized_bins": 128},
                      "percentile": {"num_bins": 2048, "percentile": 99.999}}


def _calibration_method(name: str):  # noqa: ANN202 - onnxruntime's CalibrationMethod, imported late (heavy)
    from onnxruntime.quantization import CalibrationMethod

    return {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
            "percentile": CalibrationMethod.Percentile}[name]


class _ArrayReader:
    """onnxruntime's CalibrationDataReader protocol over an array of inputs, one image per call."""

    def __init__(self, input_name: str, inputs: np.ndarray) -> None:
        self._items = iter([{input_name: inputs[index : index + 1]} for index in range(len(inputs))])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)

    def rewind(self) -> None:  # part of the protocol; the quantizer reads the data once
        pass


def quantize_ptq(
    fp32_path: Path, out_path: Path, calibration: np.ndarray, networks: Sequence[str], flavour: str = "cpu",
    range_method: str = "minmax",
) -> Path:
    """Write an INT8 Q/DQ copy of `fp32_path` at `out_path`, calibrated on `calibration` (N x 3 x S x S float32),
    quantizing the nodes of `networks` (module paths, see `core.export.scopes`) only."""
    if flavour not in FLAVOURS:
        raise InputError(f"unknown quantization flavour '{flavour}' (choose from {', '.join(FLAVOURS)})")
    if range_method not in RANGE_METHODS:
        raise InputError(f"unknown range method '{range_method}' (choose from {', '.join(RANGE_METHODS)})")
    with tempfile.TemporaryDirectory(prefix="ptq-") as scratch:
        prepared = _prepared(Path(fp32_path), Path(scratch) / "prepared.onnx")
        ranges = _calibrated_ranges(prepared, Path(scratch), calibration, flavour == "tensorrt", range_method)
        _quantize(prepared, Path(out_path), ranges, flavour == "tensorrt", range_method, networks)
    return Path(out_path)


def _prepared(fp32_path: Path, prepared: Path) -> Path:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # ONNX's own shape inference is enough for a fixed-size CNN; the symbolic one gives up on shape arithmetic
    # (graphs saved before 'SAME' padding became constant have plenty).
    try:
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    except Exception as error:  # onnxruntime's tools raise bare Exceptions
        raise InputError(f"{fp32_path}: ONNX Runtime's quantization pre-processing failed ({error})") from None
    return prepared


def _calibrated_ranges(prepared: Path, scratch: Path, calibration: np.ndarray, symmetric: bool,
                       range_method: str) -> Path:
    """Activation ranges, saved where `quantize_static` reads a calibration cache.

    Computed here rather than inside `quantize_static` because it cannot pass histogram settings on: with its
    defaults (128 bins, 128 quantized bins) the entropy search has a single candidate, the maximum, so "entropy"
    silently gave the same graph as min-max.
    """
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    calibrator = create_calibrator(
        prepared, QUANTIZED_OPERATORS, augmented_model_path=str(scratch / "augmented.onnx"),
        calibrate_method=_calibration_method(range_method), providers=["CPUExecutionProvider"],
        extra_options={"symmetric": symmetric, **HISTOGRAM_SETTINGS.get(range_method, {})},
    )
    input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
    calibrator.collect_data(_ArrayReader(input_name, calibration))
    ranges = scratch / "ranges.json"
    save_tensors_data(calibrator.compute_data(), ranges)
    return ranges


def _quantize(prepared: Path, out_path: Path, ranges: Path, symmetric: bool, range_method: str,
              networks: Sequence[str]) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    graph = onnx.load(str(prepared), load_external_data=False)
    excluded = [node.name for node in graph.graph.node if not in_modules(node.name, networks)]
    quantize_static(
        str(prepared),
        str(out_path),
        calibration_cache_path=ranges,
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=QUANTIZED_OPERATORS,
        nodes_to_exclude=excluded,
        per_channel=True,
        activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=_calibration_method(range_method),  # must match the cache's, or quantize_static refuses
        # 7-bit weights for uint8 activations (ONNX Runtime applies reduce_range to weights only): a pair of
        # products stays within 16 bits on CPUs without VNNI. Symmetric int8 activations (|a| <= 128) leave room
        # for full-range weights, and TensorRT wants them.
        reduce_range=not symmetric,
        extra_options={
            "ActivationSymmetric": symmetric,
            "WeightSymmetric": True,
            # TensorRT dequantizes int8 only; it folds the FP32 bias into the INT8 convolution itself.
            "QuantizeBias": not symmetric,
        },
    )

