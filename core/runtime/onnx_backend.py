"""ONNX Runtime backend: CPU here; the CUDA and TensorRT execution providers are used when the install has them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.runtime.base import to_network_input

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def session_options(threads: int | None = None) -> Any:
    """The session options every graph here runs with (inspection, latency, profiling alike)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    # Idle worker threads sleep instead of spinning: on a 2-core bench PC (or a Jetson) the capture thread and
    # the UI need those cycles, and spinning halved throughput when the cores were shared.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OnnxRuntime:
    """Score images with an exported ONNX graph (FP32, FP16 or Q/DQ INT8)."""

    def __init__(self, onnx_path: Path, image_size: int, threads: int | None = None) -> None:
        import onnxruntime  # heavy, and optional for users who only train

        options = session_options(threads)
        self.graph_path = Path(onnx_path)
        available = set(onnxruntime.get_available_providers())
        providers = [provider for provider in PREFERRED_PROVIDERS if provider in available]
        try:
            self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types for a bad graph
            raise InputError(f"{onnx_path}: ONNX Runtime cannot load this graph ({error})") from None
        self.provider = self.session.get_providers()[0]
        self.name = "onnxruntime" if self.provider == "CPUExecutionProvider" else f"onnxruntime-{self.provider}"
        self.image_size = image_size
        self.input_name = self.session.get_inputs()[0].name
        self.input_is_half = self.session.get_inputs()[0].type == "tensor(float16)"

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pixels = to_network_input(images)
        if self.input_is_half:
            pixels = pixels.astype(np.float16)
        scores, maps = self.session.run(None, {self.input_name: pixels})
        # asarray: no copy of outputs that are float32 already (every graph but FP16 ones)
        return np.asarray(scores, np.float32), np.asarray(maps[:, 0], np.float32)
