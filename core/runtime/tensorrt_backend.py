"""TensorRT backend, for a Jetson: the bundle's engine (built on the device by device/build_engine.py) with CUDA
buffers. It wraps the device-side runtime that ships inside every bundle, so the app on the Jetson and a bare
`python3 device/trt_runtime.py` run the same code. Imported only when TensorRT is installed (never on CI here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import InputError


class TensorRtRuntime:
    """Score images with a bundle's TensorRT engine (`model.engine`)."""

    name = "tensorrt"

    def __init__(self, bundle_dir: Path, image_size: int) -> None:
        from core.deploy.device.trt_runtime import RuntimeProblem, TrtRuntime

        try:
            self._runtime = TrtRuntime(str(bundle_dir))
        except RuntimeProblem as problem:
            raise InputError(str(problem)) from None
        self.image_size = image_size

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, maps = self._runtime.predict(images)
        return np.asarray(scores, np.float32), np.asarray(maps, np.float32).reshape(len(images), *images.shape[1:3])
