"""Capture a student-teacher network as one torch.export graph, ready for PT2E quantization-aware training.

The graph is the whole eval pipeline (pixels -> scores, anomaly maps), so the converted graph exports to ONNX as it
is; it also returns the teacher and student features the pipeline computed, which is what the training loss needs.

Batch norm: every BatchNorm is folded into its convolution, with its running statistics, BEFORE torchao sees the
graph. That is what guarantees the frozen teacher cannot drift: there is no batch-norm op left to switch to batch
statistics, and no running statistic left to update. It is needed, not just tidy: torchao 0.18's `prepare_qat_pt2e`
rewrites every conv + batch_norm pair into its QAT conv-bn pattern matching with `ignore_literals=True`, which turns
the teacher's eval-mode batch norm into a training-mode one, and it replaces the batch norm's eps with 1e-5
(EfficientNet uses 1e-3). The student is fine-tuned with its batch norm folded too (frozen statistics, the usual
last phase of QAT): it trains the very weights that are deployed, and a batch of 8 gives no useful statistics anyway.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import Tensor, nn
from torch.export import Dim
from torch.fx import GraphModule
from torchao.quantization.pt2e.utils import _fuse_conv_bn_

from core.export.qat.quantizer import WEIGHTED_OPS, in_scopes
from core.methods.stfpm.torch_model import StudentTeacherModel

NETWORK = "network"  # attribute of the capture wrapper: module paths in the graph start with it
TEACHER_SCOPE = f"{NETWORK}.teacher"
STUDENT_SCOPE = f"{NETWORK}.student"
QUANTIZED_SCOPES = (TEACHER_SCOPE, STUDENT_SCOPE)
_BATCH_NORM = {
    torch.ops.aten.batch_norm.default,
    torch.ops.aten._native_batch_norm_legit_no_training.default,
    torch.ops.aten._native_batch_norm_legit.default,
    torch.ops.aten._native_batch_norm_legit_functional.default,
}


class PipelineWithFeatures(nn.Module):
    """The network's eval forward, returning (scores, maps, teacher features, student features).

    It runs the network's own forward and records what its `features` call returned, so nothing of the anomaly-map
    arithmetic is copied here.
    """

    def __init__(self, network: StudentTeacherModel) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor, dict[str, Tensor], dict[str, Tensor]]:
        network = self.network
        recorded: list[tuple[dict[str, Tensor], dict[str, Tensor]]] = []

        def features(batch: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
            result = type(network).features(network, batch)
            recorded.append(result)
            return result

        network.features = features  # an instance attribute shadows the method for this one call
        try:
            scores, maps = network(pixels)
        finally:
            del network.features
        teacher, student = recorded[-1]
        return scores, maps, teacher, student


def capture(network: StudentTeacherModel, image_size: int) -> GraphModule:
    """Export `network` (eval mode, batch norm folded, dynamic batch) as a GraphModule whose only trainable
    parameters are the student's convolution weights and biases. `network` itself is left as it was."""
    network = copy.deepcopy(network).eval()  # the exported graph would otherwise share (and retag) its parameters
    example = torch.full((2, 3, image_size, image_size), 127.0)
    # Exporting under no_grad keeps the teacher's `torch.no_grad()` block inline: the teacher's parameters do not
    # require grad, so training the graph still builds no gradient for them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export's notes on deprecated internals are not the user's concern
        exported = torch.export.export(
            PipelineWithFeatures(network), (example,), dynamic_shapes=({0: Dim("batch", min=1, max=4096)},),
            strict=False,
        )
    graph = exported.module()
    _fuse_conv_bn_(graph)
    left = [node.name for node in graph.graph.nodes if node.op == "call_function" and node.target in _BATCH_NORM]
    if left:
        raise RuntimeError(f"batch norm not folded into a convolution: {', '.join(left)}")
    _train_only_student(graph)
    return graph


def _train_only_student(graph: GraphModule) -> None:
    """requires_grad on the student's conv weights and biases only (folding makes new bias parameters)."""
    for parameter in graph.parameters():
        parameter.requires_grad_(False)
    for node in graph.graph.nodes:
        if node.op != "call_function" or node.target not in WEIGHTED_OPS:
            continue
        if not in_scopes(node, (STUDENT_SCOPE,)):
            continue
        for argument in node.args[1:3]:
            if getattr(argument, "op", None) == "get_attr":
                graph.get_parameter(argument.target).requires_grad_(True)


def trainable_parameters(graph: GraphModule) -> list[nn.Parameter]:
    """The parameters the graph uses that require grad (the student's), each once, in graph order."""
    found: dict[int, nn.Parameter] = {}
    named = dict(graph.named_parameters())
    for node in graph.graph.nodes:
        if node.op == "get_attr" and node.target in named and named[node.target].requires_grad:
            found.setdefault(id(named[node.target]), named[node.target])
    return list(found.values())
