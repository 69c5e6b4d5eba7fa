"""The device runtime without a GPU: manifest checks, pre-processing (compared with onnxruntime running the same
bundle), and a clear refusal where TensorRT is absent."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from deploy_testkit import NORMALISATION, SIZE, input_spec

from core.bundle import MANIFEST
from core.deploy.device.trt_runtime import RuntimeProblem, TrtRuntime, output_roles, prepare_batch, read_manifest

AS_WRITTEN = NORMALISATION.to_json()  # the device script reads the manifest's JSON itself


def _images(count: int) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, size=(count, SIZE, SIZE, 3), dtype=np.uint8)


def test_read_manifest_of_a_real_bundle(bundle: Path) -> None:
    manifest = read_manifest(str(bundle))
    assert output_roles(manifest) == {"score": "score", "anomaly_map": "anomaly_map"}


def test_read_manifest_refuses_a_bundle_without_roles(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["outputs"] = manifest["outputs"][:1]
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(RuntimeProblem, match="must include a 'score' and an 'anomaly_map'"):
        read_manifest(str(bundle))


def test_float_input_is_normalised_like_the_training_pipeline() -> None:
    images = _images(2)
    batch = prepare_batch(list(images), input_spec(), AS_WRITTEN)
    assert batch.shape == (2, 3, SIZE, SIZE) and batch.dtype == np.float32 and batch.flags.c_contiguous
    expected = (images[1, 4, 5, 2] / 255.0 - NORMALISATION.mean[2]) / NORMALISATION.std[2]
    assert batch[1, 2, 4, 5] == pytest.approx(expected, rel=1e-6)


def test_normalisation_in_graph_and_uint8_inputs_get_raw_pixels() -> None:
    images = _images(1)
    in_graph = prepare_batch(images[0], input_spec(), {**AS_WRITTEN, "in_graph": True})
    assert in_graph.dtype == np.float32 and in_graph[0, 1, 3, 7] == images[0, 3, 7, 1]
    raw = prepare_batch(images, input_spec("uint8"), AS_WRITTEN)
    assert raw.dtype == np.uint8 and np.array_equal(raw[0], images[0].transpose(2, 0, 1))


def test_wrong_image_size_is_refused() -> None:
    with pytest.raises(ValueError, match="expected images of 32x32x3"):
        prepare_batch(np.zeros((1, 16, 16, 3), np.uint8), input_spec(), AS_WRITTEN)


def test_prepared_batch_is_what_the_bundled_graph_takes(bundle: Path) -> None:
    """The same pre-processing feeds the ONNX graph of the bundle (onnxruntime standing in for TensorRT)."""
    manifest = read_manifest(str(bundle))
    batch = prepare_batch(_images(3), manifest["input"], manifest["normalisation"])
    session = onnxruntime.InferenceSession(str(bundle / "model.onnx"))
    score, amap = session.run(["score", "anomaly_map"], {"image": batch})
    assert score.shape == (3,) and amap.shape == (3, 1, SIZE, SIZE)
    assert np.allclose(score, amap.reshape(3, -1).max(axis=1))


def test_runtime_without_tensorrt_says_so(bundle: Path) -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeProblem, match="tensorrt Python module is not available"):
            TrtRuntime(str(bundle))
    else:
        pytest.skip("tensorrt is installed here")
