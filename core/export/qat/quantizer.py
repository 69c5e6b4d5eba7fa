"""Where fake quantization goes: the backbone convolutions (teacher and student), never the anomaly-map arithmetic.

A torchao PT2E `Quantizer` annotates the captured graph. Only convolutions and linear layers inside the modules in
`scopes` are touched; the Gaussian blur is a convolution too, but it lives in `network.smooth` and stays FP32 with the
rest of the map arithmetic (normalisation, squared differences, upsampling, max).

Two flavours, as in `core.export.ptq`:
- "cpu": uint8 asymmetric activations on each convolution's input and on its output (after the ReLU6 that follows
  it, if any), int8 symmetric per-channel weights in 7 bits ([-64, 64], as PTQ's, so that CPUs without VNNI do not
  overflow their 16-bit pair sums: see `core.runtime.integer_path`) and an int32 bias at input scale x weight
  scale. That is the DQ -> Conv -> Q shape ONNX Runtime fuses into QLinearConv; the residual additions get the same
  treatment and become QLinearAdd.
- "tensorrt": int8 symmetric activations and weights (zero points 0) on each convolution's inputs only, FP32 bias:
  the explicit-quantization placement TensorRT documents; it fuses the output side itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.fx import GraphModule, Node
from torchao.quantization.pt2e import (
    FusedMovingAvgObsFakeQuantize,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
)
from torchao.quantization.pt2e.quantizer import (
    DerivedQuantizationSpec,
    QuantizationAnnotation,
    QuantizationSpec,
    Quantizer,
    SharedQuantizationSpec,
)

from core.export.ptq import FLAVOURS  # one list of flavours for PTQ and QAT
from core.runtime.integer_path import CPU_WEIGHT_RANGE

ANNOTATION_KEY = "quantization_annotation"
_EPS = 2**-12  # smallest scale an observer may choose, so a dead channel does not divide by zero
WEIGHTED_OPS = {torch.ops.aten.conv2d.default, torch.ops.aten.linear.default}
# Activations a conv's output passes through before it is quantized: folded into the conv's output range, so that
# ONNX Runtime sees Conv -> Clip -> Q and drops the Clip (the range already clamps).
_ACTIVATIONS = {
    torch.ops.aten.hardtanh.default, torch.ops.aten.hardtanh_.default,
    torch.ops.aten.relu.default, torch.ops.aten.relu_.default,
}

_ADDS = {torch.ops.aten.add.Tensor, torch.ops.aten.add_.Tensor}


def activation_spec(flavour: str) -> QuantizationSpec:
    """Per-tensor activation fake quantization with a moving-average min/max range."""
    fake_quant = FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAverageMinMaxObserver, eps=_EPS)
    if flavour == "cpu":
        return QuantizationSpec(dtype=torch.uint8, quant_min=0, quant_max=255, qscheme=torch.per_tensor_affine,
                                observer_or_fake_quant_ctr=fake_quant)
    # [-127, 127] is TensorRT's symmetric convention: scale = amax / 127, zero point 0.
    return QuantizationSpec(dtype=torch.int8, quant_min=-127, quant_max=127, qscheme=torch.per_tensor_symmetric,
                            observer_or_fake_quant_ctr=fake_quant)


def weight_spec(flavour: str) -> QuantizationSpec:
    """Per-output-channel symmetric int8 weights: 7-bit for the CPU (uint8 activations), full range for TensorRT."""
    fake_quant = FusedMovingAvgObsFakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, eps=_EPS)
    low, high = CPU_WEIGHT_RANGE if flavour == "cpu" else (-127, 127)
    return QuantizationSpec(dtype=torch.int8, quant_min=low, quant_max=high, qscheme=torch.per_channel_symmetric,
                            ch_axis=0, observer_or_fake_quant_ctr=fake_quant)


def _bias_qparams(fake_quants: list) -> tuple[torch.Tensor, torch.Tensor]:
    activation_scale, _ = fake_quants[0].calculate_qparams()
    weight_scale, _ = fake_quants[1].calculate_qparams()
    scale = (activation_scale * weight_scale).float()
    return scale, torch.zeros_like(scale, dtype=torch.int32)


def bias_spec(node: Node) -> DerivedQuantizationSpec:
    """int32 bias at scale (input scale x weight scale): what QLinearConv needs, so the CPU graph fuses."""
    return DerivedQuantizationSpec(
        derived_from=[(node.args[0], node), (node.args[1], node)], derive_qparams_fn=_bias_qparams,
        dtype=torch.int32, quant_min=-(2**31), quant_max=2**31 - 1, qscheme=torch.per_channel_symmetric, ch_axis=0,
    )


def module_paths(node: Node) -> list[str]:
    """Qualified names of the modules a captured node was called from, outermost first."""
    return [path for path, _ in node.meta.get("nn_module_stack", {}).values()]


def in_scopes(node: Node, scopes: Sequence[str]) -> bool:
    return any(path == scope or path.startswith(scope + ".") for path in module_paths(node) for scope in scopes)


class ConvQuantizer(Quantizer):
    """Annotate the conv/linear nodes under `scopes` (module paths such as "network.teacher") for `flavour`.

    Example:
        >>> prepared = prepare_qat_pt2e(graph, ConvQuantizer("tensorrt", ("network.teacher", "network.student")))
    """

    def __init__(self, flavour: str, scopes: Sequence[str]) -> None:
        super().__init__()
        if flavour not in FLAVOURS:
            raise ValueError(f"unknown quantization flavour '{flavour}' (choose from {', '.join(FLAVOURS)})")
        self.flavour = flavour
        self.scopes = tuple(scopes)

    def annotate(self, model: GraphModule) -> GraphModule:
        activation = activation_spec(self.flavour)
        for node in quantized_nodes(model, self.scopes):
            self._annotate_weighted(node, activation)
        if self.flavour == "cpu":
            # Residual additions between quantized tensors: DQ, DQ -> Add -> Q is ONNX Runtime's QLinearAdd.
            for node in residual_adds(model, self.scopes):
                node.meta[ANNOTATION_KEY] = QuantizationAnnotation(
                    input_qspec_map={node.args[0]: activation, node.args[1]: activation}, output_qspec=activation,
                    _annotated=True,
                )
            # Zero padding before a convolution ("same" padding) keeps its input's scale and zero point (zero is
            # exact), so the exported graph can pad the uint8 tensor (see `onnx_tidy`).
            for node in zero_pads(model, self.scopes):
                node.meta[ANNOTATION_KEY] = QuantizationAnnotation(
                    input_qspec_map={node.args[0]: activation},
                    output_qspec=SharedQuantizationSpec((node.args[0], node)), _annotated=True,
                )
        return model

    def _annotate_weighted(self, node: Node, activation: QuantizationSpec) -> None:
        """Input activation and weight (and, for the CPU, the int32 bias and the output) of one conv/linear."""
        inputs = {node.args[0]: activation, node.args[1]: weight_spec(self.flavour)}
        bias = node.args[2] if len(node.args) > 2 else None
        if self.flavour == "cpu" and isinstance(bias, Node):
            inputs[bias] = bias_spec(node)
        annotation = QuantizationAnnotation(input_qspec_map=inputs, _annotated=True)
        node.meta[ANNOTATION_KEY] = annotation
        if self.flavour != "cpu":
            return
        end = _output_end(node)
        if end is node:
            annotation.output_qspec = activation
        else:
            end.meta[ANNOTATION_KEY] = QuantizationAnnotation(output_qspec=activation, _annotated=True)

    def validate(self, model: GraphModule) -> None:
        if not any(ANNOTATION_KEY in node.meta for node in model.graph.nodes):
            raise ValueError(f"no convolution found under {', '.join(self.scopes)}: nothing to quantize")


def quantized_nodes(model: GraphModule, scopes: Sequence[str]) -> list[Node]:
    """The conv/linear nodes of `model` that run INT8: those called from a module under one of `scopes`."""
    return [node for node in model.graph.nodes
            if node.op == "call_function" and node.target in WEIGHTED_OPS and in_scopes(node, scopes)]


def residual_adds(model: GraphModule, scopes: Sequence[str]) -> list[Node]:
    """Additions of two tensors inside `scopes` (the backbone's skip connections)."""
    return [node for node in model.graph.nodes
            if node.op == "call_function" and node.target in _ADDS and in_scopes(node, scopes)
            and all(isinstance(argument, Node) for argument in node.args[:2])]


def zero_pads(model: GraphModule, scopes: Sequence[str]) -> list[Node]:
    """Constant zero paddings inside `scopes` (timm's "same" padding before a strided convolution)."""
    found = []
    for node in model.graph.nodes:
        if node.op != "call_function" or not node.args or not isinstance(node.args[0], Node):
            continue
        if not in_scopes(node, scopes):
            continue
        if node.target == torch.ops.aten.pad.default:
            mode = node.args[2] if len(node.args) > 2 else node.kwargs.get("mode", "constant")
            value = node.args[3] if len(node.args) > 3 else node.kwargs.get("value")
        elif node.target == torch.ops.aten.constant_pad_nd.default:
            mode, value = "constant", node.args[2] if len(node.args) > 2 else node.kwargs.get("value", 0)
        else:
            continue
        if mode == "constant" and not value:
            found.append(node)
    return found


def _output_end(node: Node) -> Node:
    """The node whose output is the conv's quantized output: its activation when that is its only user."""
    users = list(node.users)
    if len(users) == 1 and users[0].op == "call_function" and users[0].target in _ACTIVATIONS:
        return users[0]
    return node
