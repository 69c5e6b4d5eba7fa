"""INT8 by quantization-aware training: the job, the frozen teacher, the two Q/DQ flavours, cancelling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import numpy_helper

from core.errors import Cancelled, InputError
from core.onnx_export import INPUT_NAME
from core.data.dataset import load_normal_images
from core.export.qat import fine_tune, qat_job
from core.export.qat.job import refit
from core.export.trt_check import assert_tensorrt_compatible
from core.inference import to_pixels
from core.jobs import CancelToken, run_to_end
from core.methods.config import ModelConfig
from core.methods.cfa.settings import CfaSettings
from core.methods.stfpm.settings import StudentSettings
from core.methods.us.settings import UninformedStudentsSettings
from core.methods.registry import build_model, get_method, resolve_config
from core.model_store import ONNX_GRAPH, load_model, save_model
from core.runtime.integer_path import saturating_nodes
from core.training import train_job
from tests.conftest import make_mvtec_category

SIZE = 64
STFPM = get_method("stfpm")
# Two tapped layers early in the backbone keep the captured graph, its training and its export quick.
CONFIG = ModelConfig(method="stfpm", image_size=SIZE, layers=(2, 3), settings=StudentSettings(epochs=1, batch_size=4))
BATCH_NORM_OPS = {torch.ops.aten.batch_norm.default, torch.ops.aten._native_batch_norm_legit_no_training.default,
                  torch.ops.aten._native_batch_norm_legit.default}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("qat")
    roots = [make_mvtec_category(root / "data", name, train=6, seed=seed)
             for name, seed in (("stripes", 1), ("waves", 2))]
    return run_to_end(train_job(CONFIG, roots, root / "model", weights="random")).model_dir, roots


def pixels(count: int = 3) -> np.ndarray:
    return (np.random.default_rng(5).random((count, 3, SIZE, SIZE)) * 255).astype(np.float32)


def run_onnx(path: Path, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    scores, maps = session.run(None, {INPUT_NAME: inputs})
    return scores, maps


def constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Initializers and Constant outputs by name, following Identity nodes (the exporter shares initializers)."""
    values = {tensor.name: numpy_helper.to_array(tensor) for tensor in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    for node in model.graph.node:
        if node.op_type == "Identity" and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def convs_by_weight(model: onnx.ModelProto) -> tuple[list[onnx.NodeProto], list[onnx.NodeProto]]:
    """(convolutions with a dequantized INT8 weight, convolutions with a float weight)."""
    producers = {output: node.op_type for node in model.graph.node for output in node.output}
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    quantized = [node for node in convs if producers.get(node.input[1]) == "DequantizeLinear"]
    return quantized, [node for node in convs if node not in quantized]


def test_cpu_job_writes_a_fusable_graph_close_to_fp32(trained, tmp_path) -> None:
    model_dir, roots = trained
    out = tmp_path / "int8" / "qat-cpu.onnx"
    records = []
    assert run_to_end(qat_job(model_dir, roots, out, flavour="cpu", epochs=1, batch_size=8), records.append) == out
    assert {"load", "prepare", "qat", "convert", "export"} <= {record.stage for record in records}
    assert [path.name for path in out.parent.iterdir()] == ["qat-cpu.onnx"]  # no partial file left behind

    graph = onnx.load(str(out))
    assert graph.opset_import[0].version == 17
    values = constant_values(graph)
    quantize = [node for node in graph.graph.node if node.op_type == "QuantizeLinear"]
    assert quantize and all(values[node.input[2]].dtype == np.uint8 for node in quantize)
    # Every backbone convolution runs as ONNX Runtime's QLinearConv; the two blur convolutions stay FP32.
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimised.onnx")
    onnxruntime.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    optimised = [node.op_type for node in onnx.load(str(tmp_path / "optimised.onnx")).graph.node]
    quantized, plain = convs_by_weight(graph)
    assert len(plain) == 2  # the Gaussian blur's two passes
    assert optimised.count("QLinearConv") == len(quantized) > 0
    assert "QLinearAdd" in optimised  # the residual addition runs on uint8 too
    # 7-bit weights: right on CPUs without VNNI too, whose kernels add pairs of products in 16 bits.
    assert saturating_nodes(out) == []
    assert max(int(np.abs(values[node.input[0]].astype(np.int32)).max()) for node in graph.graph.node
               if node.op_type == "DequantizeLinear" and values.get(node.input[0], np.zeros(0)).dtype == np.int8) <= 64

    inputs = pixels()
    scores, maps = run_onnx(out, inputs)
    fp32_scores, fp32_maps = run_onnx(model_dir / ONNX_GRAPH, inputs)
    assert maps.shape == fp32_maps.shape == (3, 1, SIZE, SIZE)
    # Loose: the student was fine-tuned as well as quantized; a wrong scale or zero point is far off both ways.
    np.testing.assert_allclose(scores, fp32_scores, rtol=0.3)
    assert np.corrcoef(maps.ravel(), fp32_maps.ravel())[0, 1] > 0.7


def test_tensorrt_pipeline_keeps_the_teacher_and_exports_symmetric_int8(trained, tmp_path) -> None:
    from torchao.quantization.pt2e import disable_fake_quant, enable_fake_quant
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    from core.export.qat.capture import capture, graph_scopes
    from core.export.qat.onnx_qdq import export_qdq_onnx
    from core.export.qat.quantizer import ConvQuantizer

    model_dir, _ = trained
    network = load_model(model_dir).network
    teacher_state = {key: value.clone() for key, value in network.teacher.state_dict().items()}
    inputs = torch.from_numpy(pixels(4))
    with torch.no_grad():
        fp32_teacher, fp32_student = network.features(inputs)

    prepared = prepare_qat_pt2e(capture(network, STFPM, SIZE), ConvQuantizer("tensorrt", graph_scopes(STFPM.networks)))
    assert not [node for node in prepared.graph.nodes if node.target in BATCH_NORM_OPS]
    images = to_pixels((np.random.default_rng(1).random((8, SIZE, SIZE, 3)) * 255).astype(np.uint8))
    run_to_end(fine_tune(prepared, STFPM.training, images, epochs=2, learning_rate=0.05, batch_size=8))

    # The teacher's batch norm used its running statistics and nothing of it moved: without fake quantization the
    # trained graph's teacher features are the FP32 network's, while the student's did change.
    assert all(torch.equal(value, teacher_state[key]) for key, value in network.teacher.state_dict().items())
    prepared.apply(disable_fake_quant)
    with torch.no_grad():
        _, _, (teacher, student) = prepared(inputs)
    for key, value in fp32_teacher.items():
        torch.testing.assert_close(teacher[key], value, rtol=1e-4, atol=1e-4)
    assert any(not torch.allclose(student[key], value, atol=1e-3) for key, value in fp32_student.items())

    prepared.apply(enable_fake_quant)
    converted = convert_pt2e(prepared)
    out = export_qdq_onnx(converted, SIZE, tmp_path / "qat-tensorrt.onnx")
    graph = onnx.load(str(out))
    values = constant_values(graph)
    qdq = [node for node in graph.graph.node if node.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq and all(values[node.input[2]].dtype == np.int8 and not values[node.input[2]].any() for node in qdq)
    producers = {output: node for node in graph.graph.node for output in node.output}
    quantized, plain = convs_by_weight(graph)
    assert len(quantized) > 0 and len(plain) == 2
    for conv in quantized:  # Q/DQ on the input and the weight; the bias stays FP32 for TensorRT
        assert [producers[name].op_type for name in conv.input[:2]] == ["DequantizeLinear", "DequantizeLinear"]
        assert len(conv.input) < 3 or values[conv.input[2]].dtype == np.float32
    for target in ("tensorrt8", "tensorrt10"):  # the operator tables every TensorRT export must pass
        assert_tensorrt_compatible(out, target)
    with torch.no_grad():
        torch_scores, torch_maps, _ = converted(inputs)
    scores, maps = run_onnx(out, inputs.numpy())
    # ONNX Runtime computes the same INT8 graph: differences are rounding at the odd quantization boundary.
    np.testing.assert_allclose(scores, torch_scores.numpy(), rtol=0.05)
    assert np.abs(maps - torch_maps.numpy()).max() < 0.05 * float(torch_maps.abs().max())


def _training_images(roots: list[Path]) -> torch.Tensor:
    paths = sorted(path for root in roots for path in (root / "train" / "good").glob("*.png"))
    return to_pixels(load_normal_images(paths, SIZE).images)


def _prepared(network: torch.nn.Module, method: str) -> "torch.fx.GraphModule":
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    from core.export.qat.capture import capture, graph_scopes
    from core.export.qat.quantizer import ConvQuantizer

    spec = get_method(method)
    return prepare_qat_pt2e(capture(network, spec, SIZE), ConvQuantizer("cpu", graph_scopes(spec.networks)))


def test_cfa_fine_tuning_lowers_its_loss_without_blowing_up_the_descriptor(trained, tmp_path) -> None:
    """CFA's loss is scaled by 1 / nu = 1000: SGD at its fine-tuning rate multiplied the descriptor's weights by
    ~280 in one step and lost the painted defect. QAT fine-tunes it with training's optimiser (AdamW)."""
    from core.export.qat.capture import trainable_parameters

    _, roots = trained
    cfa = get_method("cfa")
    config = ModelConfig(method="cfa", image_size=SIZE, layers=(2, 3), settings=CfaSettings(epochs=1, batch_size=4))
    network = load_model(run_to_end(train_job(config, roots, tmp_path / "cfa", weights="random")).model_dir).network
    images = _training_images(roots)
    prepared = _prepared(network, "cfa")
    before = [parameter.detach().clone() for parameter in trainable_parameters(prepared)]
    records = []
    run_to_end(fine_tune(prepared, cfa.training, images, epochs=3, learning_rate=cfa.training.fine_tune_learning_rate,
                         batch_size=4), records.append)
    losses = [record.metrics["loss"] for record in records]
    assert len(losses) == 9 and max(losses) < 2 * losses[0]
    change = max(float((after.detach() - old).abs().max() / old.abs().max())
                 for after, old in zip(trainable_parameters(prepared), before))
    assert 0 < change < 0.1


def test_refit_standardises_the_fine_tuned_students_errors(trained, tmp_path) -> None:
    """Uninformed Students standardises its error and variance with statistics of the training images; QAT's
    refit recomputes them through the fine-tuned, fake-quantized graph, whose errors are not the FP32 students'."""
    _, roots = trained
    us = get_method("us")
    config = ModelConfig(method="us", image_size=SIZE, layers=(2, 3),
                         settings=UninformedStudentsSettings(epochs=1, batch_size=4, students=2))
    network = load_model(run_to_end(train_job(config, roots, tmp_path / "us", weights="random")).model_dir).network
    images = _training_images(roots)
    prepared = _prepared(network, "us")
    run_to_end(fine_tune(prepared, us.training, images, epochs=1, learning_rate=0.01, batch_size=8))
    stale = prepared.get_buffer("network.score_stats").clone()
    torch.testing.assert_close(stale, network.score_stats)  # the captured graph holds training's statistics

    refit(prepared, us.training, network, images)
    fresh = prepared.get_buffer("network.score_stats")
    assert not torch.allclose(fresh, stale, rtol=1e-3)
    with torch.no_grad():
        per_scale = network.error_and_variance(*prepared(images.float())[2])

    def standardised(stats: torch.Tensor, values: torch.Tensor, column: int) -> tuple[float, float]:
        values = (values - stats[column]) / stats[column + 1]
        return abs(float(values.mean())), abs(float(values.std(unbiased=False)) - 1)

    stale_offsets = []
    for stats, old, (error, variance) in zip(fresh, stale, per_scale):
        for column, values in ((0, error), (2, variance)):
            mean_offset, std_offset = standardised(stats, values, column)
            assert mean_offset < 1e-3 and std_offset < 1e-3
            stale_offsets += standardised(old, values, column)
    # the stale statistics do not standardise the fine-tuned graph's terms (here the variance is off by ~0.4 std)
    assert max(stale_offsets) > 0.1


def test_cancel_during_training_writes_nothing(trained, tmp_path) -> None:
    model_dir, roots = trained
    token = CancelToken()
    out = tmp_path / "cancelled.onnx"
    job = qat_job(model_dir, roots, out, flavour="tensorrt", epochs=3, batch_size=2, cancel=token)
    with pytest.raises(Cancelled):
        for record in job:
            if record.stage == "qat":
                token.cancel()
    assert not list(tmp_path.iterdir())


def test_patchcore_and_bad_settings_are_refused(trained, tmp_path) -> None:
    _, roots = trained
    config = resolve_config(ModelConfig(method="patchcore", image_size=SIZE, layers=(2, 3)))
    # A real PatchCore model directory; its memory bank does not matter, QAT must refuse before using it.
    patchcore = save_model(build_model(config, "random"), config, tmp_path / "patchcore", export_graph=False)
    with pytest.raises(InputError, match="method .patchcore. has nothing to train: use PTQ"):
        run_to_end(qat_job(patchcore, roots, tmp_path / "x.onnx", flavour="cpu"))
    with pytest.raises(InputError, match="unknown QAT flavour 'gpu'"):
        run_to_end(qat_job(patchcore, roots, tmp_path / "x.onnx", flavour="gpu"))
    assert not (tmp_path / "x.onnx").exists()


def test_graph_tidying_keeps_results_and_pads_the_quantized_tensor(tmp_path) -> None:
    from onnx import TensorProto, helper

    from core.export.qat.onnx_tidy import tidy_qdq_graph

    def constant(name: str, value: np.ndarray) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))

    scale, zero = np.array(0.05, np.float32), np.array(100, np.uint8)
    nodes = [
        constant("scale", scale), constant("zero", zero), constant("pad_value", np.array(0.0, np.float32)),
        helper.make_node("Identity", ["shared_scale"], ["scale_again"]),
        helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["q1"]),
        helper.make_node("DequantizeLinear", ["q1", "scale_again", "zero"], ["d1"]),
        helper.make_node("Pad", ["d1", "pads", "pad_value"], ["padded"], mode="constant"),
        helper.make_node("QuantizeLinear", ["padded", "scale", "zero"], ["q2"]),
        helper.make_node("DequantizeLinear", ["q2", "scale", "zero"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tidy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 5, 6])],
        initializer=[numpy_helper.from_array(scale, "shared_scale"),
                     numpy_helper.from_array(np.array([0, 0, 0, 1, 0, 0, 1, 1], np.int64), "pads")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    inputs = np.random.default_rng(0).normal(0, 3, (1, 2, 4, 4)).astype(np.float32)

    def run(proto: onnx.ModelProto) -> np.ndarray:
        session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": inputs})[0]

    expected = run(model)
    tidy_qdq_graph(model)
    onnx.checker.check_model(model)
    np.testing.assert_array_equal(run(model), expected)
    kinds = [node.op_type for node in model.graph.node]
    assert kinds == ["QuantizeLinear", "Pad", "DequantizeLinear"]  # pads uint8 with the zero point; no Identity
    assert model.graph.node[1].input[0] == "q1" and model.graph.node[1].input[2] == "zero"
    assert {tensor.name for tensor in model.graph.initializer} == {"pads", "scale", "zero"}  # unused ones gone
