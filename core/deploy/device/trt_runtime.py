"""Run a deployment bundle's TensorRT engine on the Jetson: `predict(images) -> (scores, anomaly_maps)`.

Written for both TensorRT generations found on Jetsons: 8.5 (JetPack 5; binding indices, `execute_v2`) and 10.x
(JetPack 6; tensor names, `set_tensor_address`, `execute_async_v3`). Device memory comes from pycuda when it is
installed, else from NVIDIA's cuda-python. Both, and tensorrt itself, are imported only when a runtime is created,
so the manifest reading and the pre-processing work (and are tested) anywhere with numpy.

Python 3.8 syntax; needs numpy, tensorrt and pycuda or cuda-python on the device, and build_engine.py beside it
(every bundle has both, in device/). Example:

    from trt_runtime import TrtRuntime
    runtime = TrtRuntime("/home/nvidia/inspection-station/current")
    scores, maps = runtime.predict([frame])      # frame: H x W x 3 uint8 RGB, the bundle's input size
    anomalous = scores > runtime.image_threshold
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

if __package__:  # imported from the host's package (core.deploy.device) or as device.trt_runtime
    from .build_engine import BundleProblem, bundle_file
else:  # on the device, beside build_engine.py (the bundle's device/ folder is on sys.path)
    from build_engine import BundleProblem, bundle_file

BUNDLE_FORMAT = "inspection-station-bundle"
SUPPORTED_FORMAT_VERSION = 1
ENGINE_FILE = "model.engine"
ENGINE_INFO_FILE = "engine.json"

Images = Union[np.ndarray, Sequence[np.ndarray]]


class RuntimeProblem(Exception):
    """The bundle or the engine cannot be used here; the message says why."""


def inside_bundle(bundle_dir: str, name: str) -> str:
    """`bundle_dir/name`, refused unless it stays inside the bundle with symbolic links followed."""
    try:
        return bundle_file(bundle_dir, name)
    except BundleProblem as problem:
        raise RuntimeProblem(str(problem))


def read_manifest(bundle_dir: str) -> dict:
    """The bundle's manifest, checked for format, version and the fields the runtime reads."""
    path = inside_bundle(bundle_dir, "manifest.json")
    try:
        with open(path) as stream:
            manifest = json.load(stream)
    except (OSError, ValueError) as error:
        raise RuntimeProblem("{}: cannot read the manifest ({})".format(path, error))
    if not isinstance(manifest, dict):
        raise RuntimeProblem("{}: not a manifest (a JSON {})".format(path, type(manifest).__name__))
    if manifest.get("format") != BUNDLE_FORMAT:
        raise RuntimeProblem("{}: not a deployment bundle (format {!r})".format(path, manifest.get("format")))
    if manifest.get("format_version") != SUPPORTED_FORMAT_VERSION:
        raise RuntimeProblem("{}: bundle format version {} is not supported (this runtime reads {})".format(
            path, manifest.get("format_version"), SUPPORTED_FORMAT_VERSION))
    spec = manifest.get("input", {})
    if spec.get("layout") != "NCHW" or len(spec.get("shape", [])) != 4:
        raise RuntimeProblem("{}: the input must be NCHW with 4 dimensions, got {}".format(path, spec))
    roles = [output.get("role") for output in manifest.get("outputs", [])]
    if "score" not in roles or "anomaly_map" not in roles:
        raise RuntimeProblem("{}: the outputs must include a 'score' and an 'anomaly_map', got {}".format(
            path, roles))
    return manifest


def prepare_batch(images: Images, input_spec: dict, normalisation: dict) -> np.ndarray:
    """Stack H x W x 3 RGB uint8 images into the engine's N x 3 x H x W input.

    The images must already have the bundle's size (resize with the same interpolation as in training, before).
    A uint8 input, or one whose normalisation happens inside the graph ("in_graph"), gets the raw 0..255 values;
    otherwise the manifest's mean and std (on the 0..1 scale) are applied here.
    """
    batch = np.asarray(images) if isinstance(images, np.ndarray) else np.stack([np.asarray(i) for i in images])
    if batch.ndim == 3:
        batch = batch[None]
    _, channels, height, width = input_spec["shape"]
    if batch.ndim != 4 or batch.shape[1:] != (height, width, channels):
        raise ValueError("expected images of {}x{}x{} (H x W x C), got an array of shape {}".format(
            height, width, channels, tuple(batch.shape)))
    batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    if input_spec.get("dtype") == "uint8":
        return batch.astype(np.uint8, copy=False)
    batch = batch.astype(np.float32)
    if not normalisation.get("in_graph", False):
        mean = np.asarray(normalisation.get("mean", [0.0, 0.0, 0.0]), np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(normalisation.get("std", [1.0, 1.0, 1.0]), np.float32).reshape(1, -1, 1, 1)
        batch = (batch / 255.0 - mean) / std
    return np.ascontiguousarray(batch, dtype=np.float32)


def output_roles(manifest: dict) -> Dict[str, str]:
    """Output tensor name -> role ("score", "anomaly_map")."""
    return {output["name"]: output["role"] for output in manifest["outputs"]}


class _PyCudaMemory:
    """Device buffers and a stream from pycuda (the usual choice on JetPack 5)."""

    def __init__(self) -> None:
        import pycuda.autoinit  # noqa: F401 - creates and activates the CUDA context
        import pycuda.driver as cuda

        self._cuda = cuda
        self._stream = cuda.Stream()
        self._owned = []

    @property
    def stream_handle(self) -> int:
        return self._stream.handle

    def alloc(self, nbytes: int) -> int:
        buffer = self._cuda.mem_alloc(max(nbytes, 1))
        self._owned.append(buffer)
        return int(buffer)

    def to_device(self, pointer: int, array: np.ndarray) -> None:
        self._cuda.memcpy_htod_async(pointer, array, self._stream)

    def to_host(self, array: np.ndarray, pointer: int) -> None:
        self._cuda.memcpy_dtoh_async(array, pointer, self._stream)

    def synchronize(self) -> None:
        self._stream.synchronize()

    def free(self, pointer: int) -> None:
        for buffer in list(self._owned):
            if int(buffer) == pointer:
                buffer.free()
                self._owned.remove(buffer)


class _CudaPythonMemory:
    """Device buffers and a stream from NVIDIA's cuda-python (`cuda.bindings.runtime`, or `cuda.cudart` before
    cuda-python 12.6)."""

    def __init__(self) -> None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart
        self._rt = cudart
        self._stream = self._check(cudart.cudaStreamCreate())

    def _check(self, result: tuple):
        error, values = result[0], result[1:]
        if int(error) != 0:
            raise RuntimeProblem("CUDA error {}".format(error))
        return values[0] if len(values) == 1 else None

    @property
    def stream_handle(self) -> int:
        return int(self._stream)

    def alloc(self, nbytes: int) -> int:
        return int(self._check(self._rt.cudaMalloc(max(nbytes, 1))))

    def to_device(self, pointer: int, array: np.ndarray) -> None:
        self._check(self._rt.cudaMemcpyAsync(pointer, array.ctypes.data, array.nbytes,
                                             self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream))

    def to_host(self, array: np.ndarray, pointer: int) -> None:
        self._check(self._rt.cudaMemcpyAsync(array.ctypes.data, pointer, array.nbytes,
                                             self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, self._stream))

    def synchronize(self) -> None:
        self._check(self._rt.cudaStreamSynchronize(self._stream))

    def free(self, pointer: int) -> None:
        self._check(self._rt.cudaFree(pointer))


def _cuda_memory():
    try:
        return _PyCudaMemory()
    except ImportError:
        pass
    try:
        return _CudaPythonMemory()
    except ImportError:
        raise RuntimeProblem("neither pycuda nor cuda-python is installed (pip3 install pycuda)")


class _Io:
    """One engine input or output: its name, numpy dtype, and a device buffer that grows when needed."""

    def __init__(self, name: str, index: int, dtype: np.dtype, is_input: bool) -> None:
        self.name = name
        self.index = index
        self.dtype = dtype
        self.is_input = is_input
        self.pointer = 0
        self.capacity = 0


class TrtRuntime:
    """A bundle's engine loaded on the GPU. One instance per thread (an execution context is not thread-safe)."""

    def __init__(self, bundle_dir: str, engine_path: Optional[str] = None) -> None:
        self.bundle_dir = bundle_dir
        self.manifest = read_manifest(bundle_dir)
        engine_path = engine_path or inside_bundle(bundle_dir, ENGINE_FILE)
        try:
            import tensorrt as trt  # noqa: PLC0415 - only on the device
        except ImportError as error:
            raise RuntimeProblem("the tensorrt Python module is not available ({}); on a Jetson it comes with "
                                 "JetPack (python3-libnvinfer)".format(error))
        self._trt = trt
        if not os.path.isfile(engine_path):
            raise RuntimeProblem("{}: no engine; build it with python3 device/build_engine.py".format(engine_path))
        _check_engine_version(bundle_dir, trt.__version__)
        # CUDA first: pycuda.autoinit makes its context current, and the engine must be loaded into that context.
        self._memory = _cuda_memory()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        with open(engine_path, "rb") as stream:
            self._engine = self._runtime.deserialize_cuda_engine(stream.read())
        if self._engine is None:
            raise RuntimeProblem("{}: TensorRT {} could not load the engine (built by another version or for "
                                 "another GPU?); rebuild it on this device".format(engine_path, trt.__version__))
        self._context = self._engine.create_execution_context()
        # TensorRT 10 removed the binding-index API; 8.5 has both, the bindings being the proven path there.
        self._named = not hasattr(self._engine, "num_bindings")
        self._ios = self._describe_ios()
        self._roles = output_roles(self.manifest)
        self.image_threshold = float(self.manifest.get("thresholds", {}).get("image", float("nan")))

    def _describe_ios(self) -> List[_Io]:
        trt, engine = self._trt, self._engine
        ios = []
        if self._named:
            for index in range(engine.num_io_tensors):
                name = engine.get_tensor_name(index)
                ios.append(_Io(name, index, np.dtype(trt.nptype(engine.get_tensor_dtype(name))),
                               engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT))
        else:
            for index in range(engine.num_bindings):
                ios.append(_Io(engine.get_binding_name(index), index,
                               np.dtype(trt.nptype(engine.get_binding_dtype(index))),
                               engine.binding_is_input(index)))
        return ios

    def predict(self, images: Images) -> Tuple[np.ndarray, np.ndarray]:
        """Scores (N,) and anomaly maps (N x H x W) for a batch of RGB uint8 images of the bundle's size."""
        return self.infer(prepare_batch(images, self.manifest["input"], self.manifest.get("normalisation", {})))

    def infer(self, batch: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """`predict` on an already prepared N x 3 x H x W batch (live.py times pre-processing apart)."""
        outputs = self._execute(batch)
        scores = outputs[self._name_of("score")].reshape(len(batch), -1)[:, 0]
        maps = outputs[self._name_of("anomaly_map")]
        return scores, maps.reshape((len(batch),) + maps.shape[-2:])

    def _name_of(self, role: str) -> str:
        return next(name for name, value in self._roles.items() if value == role)

    def _execute(self, batch: np.ndarray) -> Dict[str, np.ndarray]:
        inputs = [io for io in self._ios if io.is_input]
        if len(inputs) != 1:
            raise RuntimeProblem("the engine has {} inputs, expected 1".format(len(inputs)))
        source = np.ascontiguousarray(batch, dtype=inputs[0].dtype)
        if self._named:
            self._context.set_input_shape(inputs[0].name, tuple(source.shape))
        else:
            self._context.set_binding_shape(inputs[0].index, tuple(source.shape))
        results = {}
        for io in self._ios:
            if io.is_input:
                self._ensure(io, source.nbytes)
                self._memory.to_device(io.pointer, source)
            else:
                shape = tuple(self._context.get_tensor_shape(io.name) if self._named
                              else self._context.get_binding_shape(io.index))
                results[io.name] = np.empty(shape, dtype=io.dtype)
                self._ensure(io, results[io.name].nbytes)
        if self._named:
            for io in self._ios:
                self._context.set_tensor_address(io.name, io.pointer)
            ok = self._context.execute_async_v3(self._memory.stream_handle)
        else:
            self._memory.synchronize()  # execute_v2 is synchronous and not stream-ordered: inputs must be there
            ok = self._context.execute_v2([io.pointer for io in sorted(self._ios, key=lambda io: io.index)])
        if not ok:
            raise RuntimeProblem("TensorRT failed to execute the engine (see its log above)")
        for io in self._ios:
            if not io.is_input:
                self._memory.to_host(results[io.name], io.pointer)
        self._memory.synchronize()
        return results

    def _ensure(self, io: _Io, nbytes: int) -> None:
        if nbytes > io.capacity:
            if io.pointer:
                self._memory.free(io.pointer)
            io.pointer = self._memory.alloc(nbytes)
            io.capacity = nbytes


def _check_engine_version(bundle_dir: str, installed: str) -> None:
    """Refuse, with a clear message, an engine built by another TensorRT (deserialising it would fail obscurely)."""
    path = inside_bundle(bundle_dir, ENGINE_INFO_FILE)
    if not os.path.isfile(path):
        return
    with open(path) as stream:
        built_with = str(json.load(stream).get("tensorrt", ""))
    if built_with and not installed.startswith(built_with):
        raise RuntimeProblem("{}: the engine was built with TensorRT {}, this device has {}; rebuild it".format(
            path, built_with, installed))
