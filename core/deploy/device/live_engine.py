"""The scoring half of live.py: a bundle's TensorRT engine, or ONNX Runtime on its graph where TensorRT is absent.

`open_engine(bundle_dir)` returns an `Engine` whose three steps are timed apart by live.py: `prepare` (resize and
normalise one RGB frame into the input batch), `run` (the engine itself) and the caller's post-processing.
TensorRT is used when the bundle has an engine (device/build_engine.py built it) and the tensorrt module imports;
otherwise ONNX Runtime runs model.onnx with the CUDA provider when it is available, else on the CPU, so that the
live demo runs (slower) on a device whose engine is not built yet, and is tested on machines without a GPU.

Python 3.8 syntax; numpy and OpenCV, plus tensorrt (with pycuda or cuda-python) or onnxruntime.
"""

import os
from typing import List, Optional, Tuple

import cv2
import numpy as np

if __package__:
    from .trt_runtime import ENGINE_FILE, RuntimeProblem, TrtRuntime, inside_bundle, output_roles, prepare_batch
else:
    from trt_runtime import ENGINE_FILE, RuntimeProblem, TrtRuntime, inside_bundle, output_roles, prepare_batch

BACKENDS = ("auto", "tensorrt", "onnxruntime")


class Engine:
    """One loaded model: `prepare(frame) -> batch`, `run(batch) -> (score, anomaly map)`, its thresholds."""

    def __init__(self, manifest: dict, name: str) -> None:
        self.manifest = manifest
        self.name = name
        spec = manifest["input"]
        self.height, self.width = int(spec["shape"][2]), int(spec["shape"][3])
        thresholds = manifest.get("thresholds", {}) or {}
        self.threshold = float(thresholds.get("image", 0.5))
        self.map_low = float(thresholds.get("map_low", 0.0) or 0.0)
        self.per_category = {str(k): float(v) for k, v in (thresholds.get("per_category") or {}).items()}
        self.categories = [str(c) for c in manifest.get("categories", [])]

    def threshold_for(self, category: str) -> float:
        """The category's own threshold where the manifest has one, else the overall one."""
        return self.per_category.get(category, self.threshold)

    def prepare(self, frame: np.ndarray) -> np.ndarray:
        """An H x W x 3 uint8 RGB frame of any size -> the 1 x 3 x h x w input batch."""
        if frame.shape[:2] != (self.height, self.width):
            shrinking = frame.shape[0] > self.height or frame.shape[1] > self.width
            # INTER_AREA when shrinking averages like the antialiased bilinear resize used in training
            frame = cv2.resize(frame, (self.width, self.height),
                               interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
        return prepare_batch(frame[None], self.manifest["input"], self.manifest.get("normalisation", {}))

    def run(self, batch: np.ndarray) -> Tuple[float, np.ndarray]:
        raise NotImplementedError


class TensorRtEngine(Engine):
    def __init__(self, bundle_dir: str) -> None:
        self._runtime = TrtRuntime(bundle_dir)
        super().__init__(self._runtime.manifest, "TensorRT {}".format(self._runtime._trt.__version__))

    def run(self, batch: np.ndarray) -> Tuple[float, np.ndarray]:
        scores, maps = self._runtime.infer(batch)
        return float(scores[0]), np.asarray(maps[0], np.float32)


class OnnxEngine(Engine):
    def __init__(self, bundle_dir: str, manifest: dict) -> None:
        try:
            import onnxruntime  # noqa: PLC0415 - only where TensorRT is not used
        except ImportError as error:
            raise RuntimeProblem("neither a TensorRT engine nor onnxruntime is usable ({}); build the engine "
                                 "(python3 device/build_engine.py) or pip3 install onnxruntime".format(error))
        graph = inside_bundle(bundle_dir, manifest.get("graph", {}).get("file", "model.onnx"))
        available = onnxruntime.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning, as the station's runtime does: the capture thread and the
        # display share the cores, and spinning workers starve them (several times slower on a shared 2-core CPU).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(graph, sess_options=options, providers=providers)
        roles = output_roles(manifest)
        self._outputs = [next(n for n, r in roles.items() if r == "score"),
                         next(n for n, r in roles.items() if r == "anomaly_map")]
        self._input = manifest["input"]["name"]
        used = self._session.get_providers()[0].replace("ExecutionProvider", "")
        super().__init__(manifest, "ONNX Runtime {} ({})".format(onnxruntime.__version__, used))

    def run(self, batch: np.ndarray) -> Tuple[float, np.ndarray]:
        score, amap = self._session.run(self._outputs, {self._input: batch})
        amap = np.asarray(amap, np.float32)
        return float(np.asarray(score).reshape(-1)[0]), amap.reshape(amap.shape[-2:])


def open_engine(bundle_dir: str, manifest: dict, backend: str = "auto",
                problems: Optional[List[str]] = None) -> Engine:
    """TensorRT when asked or possible, else ONNX Runtime; why TensorRT was not used goes into `problems`."""
    if backend not in BACKENDS:
        raise RuntimeProblem("backend {!r} is not one of {}".format(backend, ", ".join(BACKENDS)))
    if backend != "onnxruntime":
        has_engine = os.path.isfile(inside_bundle(bundle_dir, ENGINE_FILE))
        try:
            if not has_engine:
                raise RuntimeProblem("no {} in the bundle (not built)".format(ENGINE_FILE))
            return TensorRtEngine(bundle_dir)
        except RuntimeProblem as problem:
            if backend == "tensorrt":
                raise
            if problems is not None:
                problems.append("TensorRT not used: {}".format(problem))
    return OnnxEngine(bundle_dir, manifest)


def heat_of(anomaly_map: np.ndarray, low: float, threshold: float) -> np.ndarray:
    """The map scaled to 0..1 so that `low` is 0 and the threshold 1 (as the station's overlay does)."""
    span = max(threshold - low, 1e-12)
    return np.clip((anomaly_map - low) / span, 0.0, 1.0).astype(np.float32)


def category_of(name: str, categories: List[str]) -> str:
    """The category a frame's file path names (`.../cup/test/crack/003.png`), else ""."""
    parts = name.replace("\\", "/").split("/")[:-1]
    known = set(categories)
    for part in reversed(parts):
        if part in known:
            return part
    return ""
