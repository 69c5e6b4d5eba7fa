"""FP32 / FP16 / INT8-PTQ variants: bundles that verify, load in ONNX Runtime and stay close to FP32."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from core.errors import InputError
from core.bundle import verify_bundle
from core.export.calibration import calibration_inputs, normal_images_by_category
from core.export.variant_thresholds import variant_thresholds
from core.export.variants import VariantSpec, export_variant_job
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.stfpm.settings import StudentSettings
from core.model_manifest import read_manifest
from core.runtime import open_runtime
from core.training import train_job

SIZE = 64


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from tests.conftest import make_mvtec_category

    root = tmp_path_factory.mktemp("variants")
    categories = [make_mvtec_category(root / "data", "stripes", seed=1), make_mvtec_category(root / "data", "waves", seed=2)]
    config = ModelConfig(method="stfpm", image_size=SIZE, settings=StudentSettings(epochs=2, batch_size=4))
    return run_to_end(train_job(config, categories, root / "model")).model_dir


def images(count: int = 4) -> np.ndarray:
    return (np.random.default_rng(3).random((count, SIZE, SIZE, 3)) * 255).astype(np.uint8)


def export(model_dir, spec, tmp_path):
    return run_to_end(export_variant_job(model_dir, spec, tmp_path / spec.name))


def test_calibration_sources(model_dir) -> None:
    manifest = read_manifest(model_dir)
    noise = calibration_inputs(manifest, "random-normal", 8)
    assert noise.shape == (8, 3, SIZE, SIZE) and noise.dtype == np.float32
    normalised = (noise - 127.5) / 127.5  # EfficientNet-Lite0's scaling: the noise is N(0, 1) after it
    assert abs(normalised.mean()) < 0.05 and abs(normalised.std() - 1) < 0.05
    train = calibration_inputs(manifest, "train", 5)
    heldout = calibration_inputs(manifest, "heldout", 50)
    assert train.shape == (5, 3, SIZE, SIZE) and 0 <= train.min() and train.max() <= 255
    assert len(heldout) == 2  # 10 % of 12 images per category, at least one each


def test_the_held_out_split_is_the_one_the_manifest_records(model_dir) -> None:
    manifest = read_manifest(model_dir)
    assert manifest.holdout_fraction == 0.1
    half = dataclasses.replace(manifest, holdout_fraction=0.5)
    assert [len(paths) for paths in normal_images_by_category(half, "heldout", None).values()] == [6, 6]
    assert len(calibration_inputs(half, "heldout", 50)) == 12
    other_seed = normal_images_by_category(dataclasses.replace(half, split_seed=manifest.split_seed + 1), "heldout",
                                           None)
    assert other_seed != normal_images_by_category(half, "heldout", None)


def test_an_fp32_variant_chooses_the_thresholds_training_chose(model_dir, tmp_path) -> None:
    """Same graph, same held-out images, same rule: the variant's thresholds are the model's (up to ONNX Runtime
    versus PyTorch rounding). A second rule, or another split, would show here."""
    model = read_manifest(model_dir).thresholds
    variant = verify_bundle(export(model_dir, VariantSpec("fp32"), tmp_path)).thresholds
    assert variant.per_category.keys() == model.per_category.keys() == {"stripes", "waves"}
    for name in model.per_category:
        assert variant.per_category[name] == pytest.approx(model.per_category[name], rel=1e-4)
    for key in ("image", "heldout_score_max", "map_low"):
        assert getattr(variant, key) == pytest.approx(getattr(model, key), rel=1e-4, abs=1e-7), key


def test_fp16_matches_fp32(model_dir, tmp_path) -> None:
    fp32 = open_runtime(model_dir, "onnxruntime").predict(images())
    bundle = export(model_dir, VariantSpec("fp16"), tmp_path)
    fp16_runtime = open_runtime(bundle)
    assert fp16_runtime.precision == "fp16"
    scores, maps = fp16_runtime.predict(images())
    np.testing.assert_allclose(scores, fp32[0], rtol=0.05)
    assert (bundle / "model.onnx").stat().st_size < 0.6 * (model_dir / "model.onnx").stat().st_size


def test_a_variant_with_non_finite_scores_is_refused(model_dir, tmp_path) -> None:
    """A value past a precision's range (FP16's 65504) inside a network ends as inf or NaN scores; thresholds chosen
    on them would pass every image. A graph whose scores overflow on every image stands in for such a variant."""
    from onnx import TensorProto, helper

    big = numpy_helper.from_array(np.array(1e38, np.float32), "big")
    graph = helper.make_graph(
        [helper.make_node("Mul", ["image", "big"], ["scaled"]),
         helper.make_node("ReduceMax", ["scaled"], ["anomaly_map"], axes=[1], keepdims=1),
         helper.make_node("ReduceMax", ["anomaly_map"], ["score"], axes=[1, 2, 3], keepdims=0)],
        "overflowing", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"]),
         helper.make_tensor_value_info("anomaly_map", TensorProto.FLOAT, ["batch", 1, SIZE, SIZE])],
        initializer=[big])
    path = tmp_path / "overflowing.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(InputError, match="fp16-cpu: the graph gives non-finite scores on 2 of 2 held-out normal"):
        variant_thresholds(read_manifest(model_dir), path, model_dir / "model.onnx", None, "fp16-cpu")


@pytest.mark.parametrize("target", ["cpu", "tensorrt8"])
def test_int8_ptq_bundle(model_dir, tmp_path, target) -> None:
    spec = VariantSpec("int8", "ptq", "random-normal", target, calibration_samples=8)
    bundle = export(model_dir, spec, tmp_path)
    manifest = verify_bundle(bundle)
    assert manifest.precision == "int8" and manifest.variant["name"] == spec.name
    assert manifest.fp32_drift["images"] == 2
    # re-chosen per category too, as training does: a unified model's categories differ in normal scores
    assert set(manifest.thresholds.per_category) == {"stripes", "waves"}
    graph = onnx.load(str(bundle / "model.onnx"))
    quantize = [node for node in graph.graph.node if node.op_type == "QuantizeLinear"]
    assert quantize
    zero_points = {numpy_helper.to_array(init).dtype.name: numpy_helper.to_array(init)
                   for init in graph.graph.initializer if init.name.endswith("zero_point")}
    if target == "tensorrt8":  # symmetric int8: TensorRT refuses anything else
        assert set(zero_points) == {"int8"} and all(not np.any(value) for value in zero_points.values())
    else:
        assert "uint8" in zero_points
    assert not any(node.name.startswith("/smooth/") for node in graph.graph.node if node.op_type == "QuantizeLinear")
    # INT8 runs from convolution to convolution: residual additions are quantized and no 'SAME' Pad sits between
    # a DequantizeLinear and the next QuantizeLinear (they are folded into the convolutions)
    quantized_inputs = {node.input[0] for node in quantize}
    assert any(name.endswith("Add_output_0") for name in quantized_inputs)
    producers = {output: node.op_type for node in graph.graph.node for output in node.output}
    assert not [node.name for node in graph.graph.node
                if node.op_type == "Pad" and producers.get(node.input[0]) == "DequantizeLinear"]
    arithmetic = [node.name for node in graph.graph.node if node.name.count("/") < 2 and node.op_type == "Sub"]
    assert arithmetic and not any(name.startswith(tuple(arithmetic)) for name in quantized_inputs)
    assert (bundle / "model.onnx").stat().st_size < 0.45 * (model_dir / "model.onnx").stat().st_size
    report = manifest.report  # also written for people as report.md
    assert report["int8_convolutions"] == report["convolutions"] - 2  # all but the blur's two passes
    assert report["graph_bytes"] < 0.45 * report["fp32_graph_bytes"]
    text = (bundle / "report.md").read_text()
    assert f"convolutions in INT8: {report['int8_convolutions']} of {report['convolutions']}" in text
    assert ("TensorRT operator check: passed" in text) == (target == "tensorrt8")
    # Both flavours fit the 16-bit pair sums of CPUs without VNNI: the CPU one by 7-bit weights, the TensorRT one
    # by int8 activations (|a| <= 128).
    assert report["int8_pair_sum_overflows"] == 0 and "VNNI (16-bit pair sums): safe" in text
    largest_weight = max(int(np.abs(numpy_helper.to_array(init).astype(np.int32)).max())
                         for init in graph.graph.initializer if init.data_type == onnx.TensorProto.INT8
                         and not init.name.endswith("zero_point"))
    assert largest_weight <= (64 if target == "cpu" else 127) and largest_weight > 32
    scores, maps = open_runtime(bundle).predict(images())
    assert maps.shape == (4, SIZE, SIZE) and np.all(np.isfinite(scores))


def test_bad_variant_specs_are_refused() -> None:
    with pytest.raises(InputError, match="INT8 needs"):
        VariantSpec("int8")
    with pytest.raises(InputError, match="PTQ needs --calibration"):
        VariantSpec("int8", "ptq")
    with pytest.raises(InputError, match="unknown target"):
        VariantSpec("fp32", target="tpu")


def test_evaluate_command_takes_a_bundle(model_dir, tmp_path, capsys) -> None:
    from core.cli import main

    bundle = export(model_dir, VariantSpec("int8", "ptq", "random-normal", calibration_samples=8), tmp_path)
    data = [str(path) for path in sorted((model_dir.parent / "data").iterdir())]
    assert main(["evaluate", "--model", str(bundle), "--data", *data, "--json", str(tmp_path / "metrics.json")]) == 0
    assert "stripes" in capsys.readouterr().out
    assert json.loads((tmp_path / "metrics.json").read_text())["mean"]["image_auroc"] is not None
