"""The resource columns: MACs of inference and of a training step (grouped convolutions priced right), sizes."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from core.benchmark.resources import (_aten, conv_backward_flops, parameter_count, state_bytes, training_macs_per_image,
                                      training_step_bytes_per_image)
from core.methods.config import ModelConfig
from core.methods.registry import build_model, get_method
from core.profiling import count_macs


def backward_flops(conv: torch.nn.Module, custom: bool) -> int:
    x = torch.rand(2, conv.in_channels, 9, 9, requires_grad=True)
    y = conv(x)
    mapping = {_aten.convolution_backward: conv_backward_flops} if custom else None
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        y.sum().backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("kind", [torch.nn.Conv2d, torch.nn.ConvTranspose2d])
def test_conv_backward_agrees_with_torch_without_groups(kind: type) -> None:
    conv = kind(8, 16, 3, stride=2, padding=1)
    assert backward_flops(conv, custom=True) == backward_flops(conv, custom=False) > 0


def test_depthwise_backward_costs_twice_its_forward() -> None:
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    x = torch.rand(2, 16, 9, 9)
    with FlopCounterMode(display=False) as counter:
        conv(x)
    forward = counter.get_total_flops()
    assert backward_flops(conv, custom=True) == 2 * forward  # weight and input gradients (x needs a gradient)
    assert backward_flops(conv, custom=False) > 4 * forward  # torch's own formula ignores the groups


def network(method: str) -> torch.nn.Module:
    return build_model(ModelConfig(method=method, image_size=64), weights="random")


def test_paste_trains_with_fewer_macs_than_stfpm_on_the_same_backbone() -> None:
    stfpm, paste = network("stfpm"), network("paste")
    stfpm_training = training_macs_per_image(stfpm, get_method("stfpm"), 64)
    paste_training = training_macs_per_image(paste, get_method("paste"), 64)
    inference = count_macs(stfpm, 64)
    assert 0 < paste_training < stfpm_training
    # forward of teacher and student plus the student's backward: more than one inference, less than four
    assert inference < stfpm_training < 4 * inference
    assert count_macs(paste, 64) < inference
    assert not any(parameter.grad is not None for parameter in stfpm.parameters())  # the count left no gradients
    assert not stfpm.training


def test_a_memory_bank_has_no_training_macs() -> None:
    assert training_macs_per_image(network("patchcore"), get_method("patchcore"), 64) is None
    assert training_step_bytes_per_image(network("patchcore"), get_method("patchcore"), 64) is None


def test_training_step_memory_is_what_backward_keeps_and_grows_with_the_image() -> None:
    """A one-layer trained model: autograd keeps its input (the weight is a parameter, not counted) and the gradient
    of its weight and bias is added; per image, at the step's batch of 2."""
    stfpm, paste = network("stfpm"), network("paste")
    small = training_step_bytes_per_image(stfpm, get_method("stfpm"), 64)
    large = training_step_bytes_per_image(stfpm, get_method("stfpm"), 128)
    gradients = sum(parameter.numel() * 4 for parameter in stfpm.student.parameters())
    assert gradients < small
    # activations grow with the pixels (4x), the gradients do not
    assert 3.5 * (small - gradients) < large - gradients < 4.5 * (small - gradients)
    # PaSTe does not back-propagate through the shared layers, the largest activations: well under half of STFPM's
    assert training_step_bytes_per_image(paste, get_method("paste"), 128) < 0.45 * large
    assert not any(parameter.grad is not None for parameter in stfpm.parameters()) and not stfpm.training


def test_memory_counts_buffers_and_a_shared_tensor_once() -> None:
    module = torch.nn.Module()
    module.first = module.second = torch.nn.Linear(10, 10)  # one layer reached by two names, as a shared prefix
    module.register_buffer("bank", torch.zeros(100))  # fitted state travels in buffers
    assert len(module.state_dict()) == 5
    assert state_bytes(module) == (110 + 100) * 4
    assert parameter_count(module) == 110
