"""The resource columns of one benchmark cell, measured on its trained model directory (none is estimated).

MACs are FLOPs / 2 as torch's FlopCounterMode counts them (convolutions and matrix products; element-wise work is
not counted, as in the papers). Sizes are in MB of 10^6 bytes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from core.methods.spec import MethodSpec
from core.model_manifest import ONNX_GRAPH
from core.profiling import count_macs, state_bytes

MB = 1e6
_aten = torch.ops.aten
# Two images per step: batch norm in training mode needs more than one, and the cost per image does not depend on it.
TRAINING_STEP_BATCH = 2


def parameter_count(network: nn.Module) -> int:
    """Every parameter of the deployed model, frozen backbones included (shared modules counted once)."""
    return sum(parameter.numel() for parameter in network.parameters())


def conv_backward_flops(grad_out_shape: list[int], x_shape: list[int], w_shape: list[int], *args: Any,
                        **kwargs: Any) -> int:
    """FLOPs of a convolution's backward, grouped convolutions included.

    torch 2.x's own formula (`flop_counter.conv_backward_flop`) ignores `groups`: it prices the weight gradient of a
    depthwise convolution as if every input channel met every output channel, about 40x too much for an
    EfficientNet-Lite student. Each gradient, input's and weight's, meets every (input, weight, output) product of
    the forward once, so each costs what the forward costs: 2 x prod(weight shape) x N x output positions (input
    positions for a transposed convolution)."""
    transposed, output_mask = args[4], args[7]
    positions = x_shape[2:] if transposed else grad_out_shape[2:]
    forward = 2 * grad_out_shape[0] * math.prod(w_shape) * math.prod(positions)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def _training_step(network: nn.Module, spec: MethodSpec, image_size: int) -> torch.Tensor:
    """One training step's loss as training computes it (train mode, the spec's loss on its `loss_inputs`), on
    TRAINING_STEP_BATCH seeded random images. The caller runs backward; `_after_step` restores the network."""
    pixels = torch.rand(TRAINING_STEP_BATCH, 3, image_size, image_size, generator=torch.Generator().manual_seed(0))
    network.train()
    return spec.training.loss(*getattr(network, spec.training.loss_inputs)(pixels * 255))


def _after_step(network: nn.Module) -> None:
    network.zero_grad(set_to_none=True)
    network.eval()


def training_macs_per_image(network: nn.Module, spec: MethodSpec, image_size: int) -> int | None:
    """MACs of one training step per image: forward and backward of what the method's loss trains, as training runs
    it. None for a method that trains nothing (a memory bank is fitted by forward passes only; its cost is the
    inference MACs per training image)."""
    if spec.training is None:
        return None
    try:
        with FlopCounterMode(display=False, custom_mapping={_aten.convolution_backward: conv_backward_flops}) as counter:
            _training_step(network, spec, image_size).backward()
    finally:
        _after_step(network)
    return counter.get_total_flops() // 2 // TRAINING_STEP_BATCH


def training_step_bytes_per_image(network: nn.Module, spec: MethodSpec, image_size: int) -> int | None:
    """Tensor memory a training step on one image needs beyond the model itself: the activations autograd keeps for
    the backward pass (each storage once, parameters excluded; measured on a real step of TRAINING_STEP_BATCH images
    and divided by it) plus the gradients of the trained parameters. This is the paper's "RAM Training" (96 MB for STFPM on MobileNetV2, far below any
    PyTorch process's RSS): what PaSTe saves by not back-propagating through the shared layers. None for a method
    that trains nothing."""
    if spec.training is None:
        return None
    parameters = {parameter.data_ptr() for parameter in network.parameters()}
    saved: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    try:
        with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
            loss = _training_step(network, spec, image_size)
        loss.backward()
        gradients = sum(parameter.grad.numel() * parameter.grad.element_size()
                        for parameter in network.parameters() if parameter.grad is not None)
    finally:
        _after_step(network)
    return sum(saved.values()) // TRAINING_STEP_BATCH + gradients


def _mb(count: int | None) -> float | None:
    return None if count is None else round(count / MB, 2)


def model_resources(network: nn.Module, spec: MethodSpec, image_size: int, model_dir: Path,
                    training: dict[str, Any]) -> dict[str, Any]:
    """Every resource column but latency: sizes and MACs of `network`, the training figures of its manifest."""
    images = max(1, int(training.get("train_images", 0)))
    return {
        "parameters": parameter_count(network),
        "memory_mb": round(state_bytes(network) / MB, 3),
        "inference_macs": count_macs(network, image_size),
        "training_macs_per_image": training_macs_per_image(network, spec, image_size),
        "training_step_mb_per_image": _mb(training_step_bytes_per_image(network, spec, image_size)),
        "peak_training_rss_mb": float(training["peak_rss_mb"]),
        "fit_rss_increase_mb": float(training.get("fit_rss_increase_mb", 0.0)),
        "fit_seconds_per_image": round(float(training["fit_seconds"]) / images, 4),
        "onnx_mb": round((Path(model_dir) / ONNX_GRAPH).stat().st_size / MB, 3),
    }
