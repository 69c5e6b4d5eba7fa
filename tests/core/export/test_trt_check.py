"""The TensorRT operator check: small hand-built graphs, one per rule, then real exports that must pass.

Graphs are built with onnx.helper and every one is validated by onnx.checker first, so a test fails on the rule
under test and not on a malformed graph.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from core.errors import InputError
from core.onnx_export import export_onnx
from core.export.trt_check import TARGETS, Finding, assert_tensorrt_compatible, check_onnx_for_tensorrt
from core.export.trt_support.restrictions import compile_restrictions
from core.export.trt_support.table import load_table, parse_table
from core.methods.config import ModelConfig
from core.methods.registry import build_model, resolve_config

BOTH = sorted(TARGETS)
FLOAT = TensorProto.FLOAT


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 17, extra_opsets=(),
               validate: bool = True) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset), *extra_opsets]
    model = helper.make_model(graph, opset_imports=opsets, ir_version=8)
    if validate:  # made-up and contrib operators have no schema to validate against
        onnx.checker.check_model(model, full_check=True)
    return model


def image(name: str = "x", elem_type: int = FLOAT, shape=("N", 3, 8, 8)) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, list(shape))


def const(name: str, values, dtype=np.int64) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def nodes_named(findings: list[Finding]) -> set[str]:
    return {finding.node for finding in findings}


def conv_relu_resize_model(mode: str = "linear", coordinates: str = "half_pixel", opset: int = 17) -> onnx.ModelProto:
    """Conv -> Relu -> Resize (to 16 x 16) -> Sigmoid: the shape of our own graphs, in small."""
    rng = np.random.default_rng(0)
    weights = numpy_helper.from_array(rng.normal(size=(4, 3, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(size=4).astype(np.float32), "b")
    return make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("Resize", ["r", "", "scales"], ["up"], name="upsample", mode=mode,
                          coordinate_transformation_mode=coordinates),
         helper.make_node("Sigmoid", ["up"], ["y"], name="squash")],
        [image()], [image("y", shape=("N", 4, 16, 16))],
        [weights, bias, const("scales", [1, 1, 2, 2], np.float32)], opset=opset)


@pytest.mark.parametrize("target", BOTH)
def test_a_supported_graph_passes(target) -> None:
    model = conv_relu_resize_model()
    assert check_onnx_for_tensorrt(model, target) == []
    assert_tensorrt_compatible(model, target)  # does not raise


@pytest.mark.parametrize("target", BOTH)
def test_an_operator_missing_from_the_table_is_named(target) -> None:
    model = make_model([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                        helper.make_node("FrobnicateBoxes", ["r"], ["y"], name="frob/nms")],
                       [image()], [image("y")], validate=False)
    findings = check_onnx_for_tensorrt(model, target)
    assert [(f.node, f.op_type) for f in findings] == [("frob/nms", "FrobnicateBoxes")]
    assert "not in the TensorRT" in findings[0].problem


def test_an_operator_marked_n_is_refused_on_that_version_only() -> None:
    # HardSwish is N in the 8.5 table and Y in 10.1's: the verdict comes from the table, not from code.
    model = make_model([helper.make_node("HardSwish", ["x"], ["y"], name="act/hswish")], [image()], [image("y")])
    findings = check_onnx_for_tensorrt(model, "tensorrt8")
    assert nodes_named(findings) == {"act/hswish"} and "marked N" in findings[0].problem
    assert check_onnx_for_tensorrt(model, "tensorrt10") == []


@pytest.mark.parametrize("target", BOTH)
def test_onnx_runtime_contrib_operators_are_refused(target) -> None:
    model = make_model([helper.make_node("FusedConv", ["x", "w"], ["y"], name="fused", domain="com.microsoft")],
                       [image()], [image("y")], [const("w", np.zeros((3, 3, 1, 1)), np.float32)],
                       extra_opsets=[helper.make_opsetid("com.microsoft", 1)], validate=False)
    findings = check_onnx_for_tensorrt(model, target)
    assert nodes_named(findings) == {"fused"} and "com.microsoft" in findings[0].problem


def qdq_model(zero_point_type: int | None, zero_point: int = 0) -> onnx.ModelProto:
    """x -> QuantizeLinear -> DequantizeLinear -> y, zero point of the given type (None: left out)."""
    initializers = [const("scale", 0.05, np.float32)]
    qdq_inputs = ["q", "scale"]
    if zero_point_type is not None:
        initializers.append(numpy_helper.from_array(
            np.asarray(zero_point, helper.tensor_dtype_to_np_dtype(zero_point_type)), "zero_point"))
        qdq_inputs.append("zero_point")
    return make_model(
        [helper.make_node("QuantizeLinear", ["x", *qdq_inputs[1:]], ["q"], name="input_quant"),
         helper.make_node("DequantizeLinear", qdq_inputs, ["y"], name="input_dequant")],
        [image()], [image("y")], initializers)


@pytest.mark.parametrize("target", BOTH)
def test_symmetric_int8_qdq_passes(target) -> None:
    assert check_onnx_for_tensorrt(qdq_model(TensorProto.INT8), target) == []


@pytest.mark.parametrize("target", BOTH)
def test_uint8_qdq_is_refused(target) -> None:
    findings = check_onnx_for_tensorrt(qdq_model(TensorProto.UINT8, zero_point=128), target)
    assert {"input_quant", "input_dequant"} <= nodes_named(findings)
    problems = " ".join(f.problem for f in findings)
    assert "UINT8" in problems and "symmetric" in problems
    assert "not 0" in problems  # the zero point 128 breaks the table's "`y_zero_point` must be 0" too


@pytest.mark.parametrize("target", BOTH)
def test_a_qdq_without_zero_point_quantizes_to_uint8_and_is_refused(target) -> None:
    findings = check_onnx_for_tensorrt(qdq_model(None), target)
    assert "input_quant" in nodes_named(findings)
    assert any("no zero point" in f.problem for f in findings if f.node == "input_quant")


@pytest.mark.parametrize("target", BOTH)
def test_a_nonzero_int8_zero_point_is_refused(target) -> None:
    findings = check_onnx_for_tensorrt(qdq_model(TensorProto.INT8, zero_point=3), target)
    assert nodes_named(findings) == {"input_quant", "input_dequant"}
    assert all("3, not 0" in f.problem for f in findings)


def _calibration_reader(count: int = 4):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{"x": rng.random((1, 3, 8, 8), dtype=np.float32)} for _ in range(count)])

        def get_next(self):
            return next(self.batches, None)

    return Reader()


def _ort_quantize(source: Path, target: Path, symmetric: bool, quantize_bias: bool) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(str(source), str(target), _calibration_reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True,
                                   "QuantizeBias": quantize_bias})
    return onnx.load(str(target))


def test_onnx_runtime_quantization_cpu_flavour_is_refused_and_symmetric_flavour_passes(tmp_path) -> None:
    """The two INT8 flavours of the issue, made by ONNX Runtime's real quantizer."""
    onnx.save(conv_relu_resize_model(), tmp_path / "fp32.onnx")
    cpu = _ort_quantize(tmp_path / "fp32.onnx", tmp_path / "cpu.onnx", symmetric=False, quantize_bias=True)
    _ort_quantize(tmp_path / "fp32.onnx", tmp_path / "trt.onnx", symmetric=True, quantize_bias=False)
    quantizers = {node.name for node in cpu.graph.node if node.op_type == "QuantizeLinear"}
    for target in BOTH:
        assert quantizers and quantizers <= nodes_named(check_onnx_for_tensorrt(tmp_path / "cpu.onnx", target))
        assert check_onnx_for_tensorrt(tmp_path / "trt.onnx", target) == []


@pytest.mark.parametrize("target", BOTH)
def test_an_int32_quantized_bias_is_refused(target, tmp_path) -> None:
    # ONNX Runtime quantizes Conv biases to INT32 behind a DequantizeLinear by default; TensorRT's DQ reads INT8.
    onnx.save(conv_relu_resize_model(), tmp_path / "fp32.onnx")
    quantized = _ort_quantize(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", symmetric=True, quantize_bias=True)
    bias_dq = {node.name for node in quantized.graph.node
               if node.op_type == "DequantizeLinear" and node.input[0].startswith("b_")}
    findings = check_onnx_for_tensorrt(quantized, target)
    assert bias_dq and nodes_named(findings) == bias_dq
    assert all("INT32" in f.problem for f in findings)


def test_a_graph_saved_by_onnx_runtime_after_fusion_is_refused(tmp_path) -> None:
    import onnxruntime

    onnx.save(conv_relu_resize_model(), tmp_path / "fp32.onnx")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "fused.onnx")
    onnxruntime.InferenceSession(str(tmp_path / "fp32.onnx"), options, providers=["CPUExecutionProvider"])
    fused = onnx.load(str(tmp_path / "fused.onnx"))
    contrib = {node.name for node in fused.graph.node if node.domain.startswith("com.microsoft")}
    assert contrib, "ONNX Runtime no longer fuses Conv+Relu here; pick another fusion for this test"
    findings = check_onnx_for_tensorrt(fused, "tensorrt8")
    assert nodes_named(findings) == contrib and all("com.microsoft" in f.problem for f in findings)


def topk_model(k_from_shape: bool, k: int = 3, largest_sorted: int = 1, size: int = 8) -> onnx.ModelProto:
    """TopK over the last axis of a 2-D input; K an initializer or computed from the input's shape."""
    flat = [helper.make_node("Flatten", ["x"], ["flat"], name="flatten")]
    if k_from_shape:
        k_nodes = [helper.make_node("Shape", ["flat"], ["shape"], name="shape", start=1),
                   helper.make_node("Div", ["shape", "eight"], ["k"], name="k_from_shape")]
        initializers = [const("eight", [8])]
    else:
        k_nodes, initializers = [], [const("k", [k])]
    topk = helper.make_node("TopK", ["flat", "k"], ["values", "indices"], name="best_patches", sorted=largest_sorted)
    return make_model([*flat, *k_nodes, topk], [image(shape=("N", 3, size, size))],
                      [helper.make_tensor_value_info("values", FLOAT, ["N", None]),
                       helper.make_tensor_value_info("indices", TensorProto.INT64, ["N", None])], initializers)


def test_topk_with_a_computed_k_fails_on_tensorrt8_only() -> None:
    model = topk_model(k_from_shape=True)
    findings = check_onnx_for_tensorrt(model, "tensorrt8")
    assert nodes_named(findings) == {"best_patches"}
    assert "'K'" in findings[0].problem and "initializer" in findings[0].problem
    assert check_onnx_for_tensorrt(model, "tensorrt10") == []  # 10.x takes a computed K


@pytest.mark.parametrize("target", BOTH)
def test_topk_with_a_constant_k_passes(target) -> None:
    assert check_onnx_for_tensorrt(topk_model(k_from_shape=False), target) == []


def test_tensorrt10_topk_limits() -> None:
    too_many = check_onnx_for_tensorrt(topk_model(k_from_shape=False, k=4000, size=64), "tensorrt10")
    assert nodes_named(too_many) == {"best_patches"} and "less than 3840" in too_many[0].problem
    unsorted = check_onnx_for_tensorrt(topk_model(k_from_shape=False, largest_sorted=0), "tensorrt10")
    assert nodes_named(unsorted) == {"best_patches"} and "sorted" in unsorted[0].problem


def test_opset_18_fails_on_tensorrt8_and_names_the_model() -> None:
    model = conv_relu_resize_model(opset=18)
    findings = check_onnx_for_tensorrt(model, "tensorrt8")
    assert [(f.node, f.op_type) for f in findings] == [("(model)", "opset")]
    assert "opset 18" in findings[0].problem and "17" in findings[0].problem
    assert check_onnx_for_tensorrt(model, "tensorrt10") == []


@pytest.mark.parametrize("target", BOTH)
@pytest.mark.parametrize(("mode", "coordinates", "attribute"), [
    ("cubic", "half_pixel", "'mode' is 'cubic'"),
    ("linear", "tf_crop_and_resize", "'coordinate_transformation_mode' is 'tf_crop_and_resize'"),
])
def test_resize_with_an_unsupported_mode_fails(target, mode, coordinates, attribute) -> None:
    findings = check_onnx_for_tensorrt(conv_relu_resize_model(mode, coordinates), target)
    assert nodes_named(findings) == {"upsample"}
    assert attribute in findings[0].problem


@pytest.mark.parametrize("target", BOTH)
def test_pooling_must_be_2d_or_3d_without_indices(target) -> None:
    one_d = make_model([helper.make_node("MaxPool", ["x"], ["y"], name="pool1d", kernel_shape=[2])],
                       [image(shape=("N", 3, 8))], [image("y", shape=("N", 3, 7))])
    assert nodes_named(check_onnx_for_tensorrt(one_d, target)) == {"pool1d"}
    with_indices = make_model(
        [helper.make_node("MaxPool", ["x"], ["y", "where"], name="pool_idx", kernel_shape=[2, 2])],
        [image()], [image("y", shape=("N", 3, 7, 7)),
                    helper.make_tensor_value_info("where", TensorProto.INT64, ["N", 3, 7, 7])])
    findings = check_onnx_for_tensorrt(with_indices, target)
    assert nodes_named(findings) == {"pool_idx"} and any("Indices" in f.problem for f in findings)


def test_pool_dilations_are_refused_where_the_table_says_so() -> None:
    model = make_model([helper.make_node("MaxPool", ["x"], ["y"], name="dilated", kernel_shape=[2, 2],
                                         dilations=[2, 2])], [image()], [image("y", shape=("N", 3, 6, 6))])
    assert check_onnx_for_tensorrt(model, "tensorrt8") == []  # 8.5's table has no dilation restriction
    assert nodes_named(check_onnx_for_tensorrt(model, "tensorrt10")) == {"dilated"}


@pytest.mark.parametrize("target", BOTH)
def test_unsqueeze_axes_computed_in_the_graph_fail(target) -> None:
    model = make_model(
        [helper.make_node("Shape", ["x"], ["shape"], name="shape", start=0, end=1),
         helper.make_node("Sub", ["shape", "shape"], ["zero"], name="zero_axis"),
         helper.make_node("Unsqueeze", ["x", "zero"], ["y"], name="add_axis")],
        [image()], [image("y", shape=(1, "N", 3, 8, 8))])
    findings = check_onnx_for_tensorrt(model, target)
    assert nodes_named(findings) == {"add_axis"} and "constant tensor" in findings[0].problem


def test_uint8_graph_input_is_refused_on_tensorrt8_and_allowed_on_tensorrt10() -> None:
    model = make_model([helper.make_node("Cast", ["x"], ["y"], name="to_float", to=FLOAT)],
                       [image(elem_type=TensorProto.UINT8)], [image("y")])
    findings = check_onnx_for_tensorrt(model, "tensorrt8")
    assert ("x", "graph input") in {(f.node, f.op_type) for f in findings}
    assert "to_float" in nodes_named(findings)  # 8.5's Cast does not read UINT8 either
    assert check_onnx_for_tensorrt(model, "tensorrt10") == []


def test_uint8_inside_the_graph_is_refused_on_tensorrt10() -> None:
    model = make_model([helper.make_node("Cast", ["x"], ["bytes"], name="to_bytes", to=TensorProto.UINT8),
                        helper.make_node("Cast", ["bytes"], ["y"], name="back", to=FLOAT)],
                       [image()], [image("y")])
    findings = check_onnx_for_tensorrt(model, "tensorrt10")
    assert nodes_named(findings) == {"to_bytes"} and "only on network inputs and outputs" in findings[0].problem


def test_int64_is_read_as_int32_on_tensorrt8() -> None:
    # INT64 data: fine for Abs (INT32 listed), refused for TopK (floating point only on 8.5, INT64 listed on 10.1).
    abs_model = make_model([helper.make_node("Abs", ["x"], ["y"], name="abs")],
                           [image(elem_type=TensorProto.INT64)], [image("y", TensorProto.INT64)])
    assert check_onnx_for_tensorrt(abs_model, "tensorrt8") == []
    topk = make_model([helper.make_node("TopK", ["x", "k"], ["v", "i"], name="int_topk")],
                      [helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 10])],
                      [helper.make_tensor_value_info("v", TensorProto.INT64, ["N", 2]),
                       helper.make_tensor_value_info("i", TensorProto.INT64, ["N", 2])], [const("k", [2])])
    findings = check_onnx_for_tensorrt(topk, "tensorrt8")
    assert nodes_named(findings) == {"int_topk"} and "read as INT32" in findings[0].problem
    assert check_onnx_for_tensorrt(topk, "tensorrt10") == []


def test_assert_names_the_file_and_every_node(tmp_path) -> None:
    path = tmp_path / "bad.onnx"
    model = make_model([helper.make_node("HardSwish", ["x"], ["h"], name="act/hswish"),
                        helper.make_node("Resize", ["h", "", "scales"], ["y"], name="upsample", mode="cubic")],
                       [image()], [image("y", shape=("N", 3, 16, 16))], [const("scales", [1, 1, 2, 2], np.float32)])
    onnx.save(model, path)
    with pytest.raises(InputError) as raised:
        assert_tensorrt_compatible(path, "tensorrt8")
    message = str(raised.value)
    assert message.startswith(str(path)) and "TensorRT 8.5" in message
    assert "act/hswish (HardSwish)" in message and "upsample (Resize)" in message


def test_unknown_target_and_unreadable_file_are_input_errors(tmp_path) -> None:
    with pytest.raises(InputError, match="tensorrt7"):
        check_onnx_for_tensorrt(conv_relu_resize_model(), "tensorrt7")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(InputError, match="garbage.onnx"):
        check_onnx_for_tensorrt(garbage, "tensorrt8")


def test_tables_are_read_from_resources_with_their_headers() -> None:
    old, new = load_table("tensorrt8"), load_table("tensorrt10")
    assert (old.version, old.max_opset, new.version, new.max_opset) == ("TensorRT 8.5", 17, "TensorRT 10.1", 20)
    assert old.cast_down == {"INT64": "INT32", "DOUBLE": "FP32"} and "UINT8" not in old.data_types
    assert new.io_only == {"UINT8"} and "INT64" in new.rows["ConstantOfShape"].types  # the table's INF64, fixed
    assert old.rows["TopK"].restrictions == ("`K` input must be an initializer",)
    assert not old.rows["HardSwish"].supported and new.rows["HardSwish"].supported


def test_a_new_table_is_data_not_code() -> None:
    text = """# Supported ONNX Operators
TensorRT 11.0 supports operators in the inclusive range of opset 9 to opset 22.
TensorRT supports the following ONNX data types: FLOAT32, FLOAT16, INT32, and BOOL
## Operator Support Matrix
| Operator | Supported | Supported Types | Restrictions |
|----------|-----------|-----------------|--------------|
| TopK     | Y         | FP32, FP16 | `K` input must be less than 100. `sorted` must be 1
| Wobble   | N         |
"""
    table = parse_table(text, source="operators-11.0.md")
    assert (table.version, table.min_opset, table.max_opset) == ("TensorRT 11.0", 9, 22)
    assert table.data_types == {"FP32", "FP16", "INT32", "BOOL"}
    assert not table.rows["Wobble"].supported
    rules, unchecked = compile_restrictions(table.rows["TopK"])
    assert [rule.sentence for rule in rules] == ["`K` input must be less than 100", "`sorted` must be 1"]
    assert unchecked == ()


def test_tf_efficientnet_lite0_export_passes(tmp_path) -> None:
    import timm

    network = timm.create_model("tf_efficientnet_lite0", pretrained=False, features_only=True, out_indices=(1, 2))
    network.eval()
    path = tmp_path / "lite0.onnx"
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notes
        torch.onnx.export(network, (torch.zeros(1, 3, 64, 64),), str(path), opset_version=17, dynamo=False,
                          input_names=["image"], dynamic_axes={"image": {0: "batch"}})
    for target in BOTH:
        assert check_onnx_for_tensorrt(path, target) == []


@pytest.fixture(scope="module", params=["stfpm", "paste", "patchcore"])
def method_export(request, tmp_path_factory) -> Path:
    network = build_model(resolve_config(ModelConfig(method=request.param, image_size=64)), weights="random")
    if request.param == "patchcore":  # an unfitted bank is empty; any bank gives the exported graph its shape
        network.set_memory_bank(torch.randn(64, network.embedding_dim), neighbours=9)
    return export_onnx(network, 64, tmp_path_factory.mktemp(request.param) / "model.onnx")


@pytest.mark.parametrize("target", BOTH)
def test_our_method_exports_pass(method_export, target) -> None:
    assert_tensorrt_compatible(method_export, target)
