"""Capture a trainable method's network as one torch.export graph, ready for PT2E quantization-aware training.

The graph is the whole eval pipeline (pixels -> scores, anomaly maps), so the converted graph exports to ONNX as it
is; it also returns what the pipeline passed through the method's `loss_inputs` call (its `Training` spec: for
STFPM the teacher and student features), which is what the training loss needs.

Batch norm: every BatchNorm is folded into its convolution, with its running statistics, BEFORE torchao sees the
graph. That is what guarantees the frozen teacher cannot drift: there is no batch-norm op left to switch to batch
statistics, and no running statistic left to update. It is needed, not just tidy: torchao 0.18's `prepare_qat_pt2e`
rewrites every conv + batch_norm pair into its QAT conv-bn pattern matching with `ignore_literals=True`, which turns
the teacher's eval-mode batch norm into a training-mode one, and it replaces the batch norm's eps with 1e-5
(EfficientNet uses 1e-3). The trained networks are fine-tuned with their batch norm folded too (frozen statistics,
the usual last phase of QAT): they train the very weights that are deployed, and a batch of 8 gives no useful
statistics anyway.
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
from core.methods.spec import MethodSpec

NETWORK = "network"  # attribute of the capture wrapper: module paths in the graph start with it
_BATCH_NORM = {
    torch.ops.aten.batch_norm.default,
    torch.ops.aten._native_batch_norm_legit_no_training.default,
    torch.ops.aten._native_batch_norm_legit.default,
    torch.ops.aten._native_batch_norm_legit_functional.default,
}


def graph_scopes(module_paths: tuple[str, ...]) -> tuple[str, ...]:
    """Module paths of the model as they appear in the captured graph (under the wrapper's attribute)."""
    return tuple(f"{NETWORK}.{path}" for path in module_paths)


class PipelineWithLossInputs(nn.Module):
    """The network's eval forward, returning (scores, maps, the tuple its `loss_inputs` call returned).

    It runs the network's own forward and records what that call returned, so nothing of the anomaly-map arithmetic
    is copied here.
    """

    def __init__(self, network: nn.Module, loss_inputs: str) -> None:
        super().__init__()
        self.network = network
        self.loss_inputs = loss_inputs

    def forward(self, pixels: Tensor) -> tuple[Tensor, Tensor, tuple]:
        network, name = self.network, self.loss_inputs
        recorded: list[tuple] = []
        method = getattr(type(network), name)

        def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - whatever the method takes
            result = method(network, *args, **kwargs)
            recorded.append(result)
            return result

        setattr(network, name, recording)  # an instance attribute shadows the method for this one call
        try:
            scores, maps = network(pixels)
        finally:
            delattr(network, name)
        if len(recorded) != 1:
            raise RuntimeError(f"{type(network).__name__}.forward called {name} {len(recorded)} times, not once")
        return scores, maps, tuple(recorded[0])


def capture(network: nn.Module, spec: MethodSpec, image_size: int) -> GraphModule:
    """Export `network` (eval mode, batch norm folded, dynamic batch) as a GraphModule whose only trainable
    parameters are the convolution weights and biases of the submodules `spec.training` trains. `network` itself is
    left as it was."""
    network = copy.deepcopy(network).eval()  # the exported graph would otherwise share (and retag) its parameters
    example = torch.full((2, 3, image_size, image_size), 127.0)
    # Exporting under no_grad keeps the teacher's `torch.no_grad()` block inline: the teacher's parameters do not
    # require grad, so training the graph still builds no gradient for them.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export's notes on deprecated internals are not the user's concern
        exported = torch.export.export(
            PipelineWithLossInputs(network, spec.training.loss_inputs), (example,), dynamic_shapes=({0: Dim("batch", min=1, max=4096)},),
            strict=False,
        )
    graph = exported.module()
    _fuse_conv_bn_(graph)
    left = [node.name for node in graph.graph.nodes if node.op == "call_function" and node.target in _BATCH_NORM]
    if left:
        raise RuntimeError(f"batch norm not folded into a convolution: {', '.join(left)}")
    _train_only(graph, graph_scopes(spec.training.trained))
    return graph


def _train_only(graph: GraphModule, scopes: tuple[str, ...]) -> None:
    """requires_grad on the conv weights and biases under `scopes` only (folding makes new bias parameters)."""
    for parameter in graph.parameters():
        parameter.requires_grad_(False)
    for node in graph.graph.nodes:
        if node.op != "call_function" or node.target not in WEIGHTED_OPS:
            continue
        if not in_scopes(node, scopes):
            continue
        for argument in node.args[1:3]:
            if getattr(argument, "op", None) == "get_attr":
                graph.get_parameter(argument.target).requires_grad_(True)


def trainable_parameters(graph: GraphModule) -> list[nn.Parameter]:
    """The parameters the graph uses that require grad (the trained networks'), each once, in graph order."""
    found: dict[int, nn.Parameter] = {}
    named = dict(graph.named_parameters())
    for node in graph.graph.nodes:
        if node.op == "get_attr" and node.target in named and named[node.target].requires_grad:
            found.setdefault(id(named[node.target]), named[node.target])
    return list(found.values())
