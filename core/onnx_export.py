"""Export a model's whole pipeline (pixel scaling -> network -> anomaly map at input size -> image score) to ONNX.

Opset 17 is the highest that TensorRT 8.5 (JetPack 5.1 on a Xavier NX) parses. The spatial size is fixed and the
batch dynamic. The TorchScript-based exporter is used: the dynamo exporter emits opset 18 for our Pad operators and
cannot convert them down.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.errors import InputError

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAMES = ("score", "anomaly_map")


def export_onnx(network: nn.Module, image_size: int, path: Path, opset: int = OPSET) -> Path:
    """Write `network` (eval mode) as an ONNX graph taking N x 3 x S x S float pixels 0..255."""
    network.eval()
    example = torch.full((1, 3, image_size, image_size), 127.0)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes are not the user's concern
        torch.onnx.export(
            network, (example,), str(path), input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
            opset_version=opset, dynamo=False,
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAMES[0]: {0: "batch"}, OUTPUT_NAMES[1]: {0: "batch"}},
        )
    return Path(path)


def parity_error(network: nn.Module, onnx_path: Path, pixels: np.ndarray) -> tuple[float, float]:
    """Largest absolute difference of (scores, maps) between PyTorch and ONNX Runtime on N x 3 x S x S pixels."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_scores, onnx_maps = session.run(None, {INPUT_NAME: pixels.astype(np.float32)})
    with torch.no_grad():
        scores, maps = network.eval()(torch.from_numpy(pixels.astype(np.float32)))
    return float(np.abs(onnx_scores - scores.numpy()).max()), float(np.abs(onnx_maps - maps.numpy()).max())


def check_parity(network: nn.Module, onnx_path: Path, pixels: np.ndarray, tolerance: float = 1e-3) -> None:
    """Refuse an export whose outputs drift from PyTorch's by more than `tolerance` relative to the score range."""
    score_error, map_error = parity_error(network, onnx_path, pixels)
    with torch.no_grad():
        scale = float(network(torch.from_numpy(pixels.astype(np.float32)))[0].abs().max()) or 1.0
    if max(score_error, map_error) > tolerance * scale:
        raise InputError(f"{onnx_path}: ONNX outputs differ from PyTorch (score {score_error:.3g}, map {map_error:.3g})")
