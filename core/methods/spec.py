"""What a method declares about itself, so that no other part of the engine names a method.

Training, export, quantization, the CLI and the window ask the spec: whether the method trains (and so whether QAT
can fine-tune it), which of its submodules are networks (FP16 converts them, INT8 quantizes them, QAT fine-tunes
the trained ones) and which stay FP32 (everything else: the anomaly-map arithmetic), its default layer group and its
hyper-parameters (a `MethodSettings` dataclass).

Submodules are named by their attribute path in the model ("teacher.layers", "student"); `core.export.scopes`
turns a path into the node-name scope it has in an exported graph, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.methods.settings import MethodSettings

# fit(model, images N x 3 x S x S uint8, config, cancel, categories N indices into the training's categories or None)
FitFunction = Callable[[nn.Module, torch.Tensor, ModelConfig, CancelToken, "torch.Tensor | None"],
                       Generator[Progress, None, None]]
# fit_out_of_fold(model, images, config, cancel, categories, folds): fits the model on ALL images, as `fit` does, and
# returns each image's (score N, map N x S x S) from a model fitted without the image's fold
OutOfFoldFunction = Callable[[nn.Module, torch.Tensor, ModelConfig, CancelToken, "torch.Tensor | None", int],
                             Generator[Progress, None, "tuple[torch.Tensor, torch.Tensor]"]]
# teach_good(model, images N x 3 x S x S uint8, categories N indices into the model's categories (-1: not known, the
# method picks as its graph does), images_per_category (how many images each category's fitted state holds, None
# where not known), config, cancel): adds the images to the fitted state as normal ones, in place, without training;
# returns the category index each image was counted under
TeachFunction = Callable[[nn.Module, torch.Tensor, torch.Tensor, "Sequence[int] | None", ModelConfig, CancelToken],
                         Generator[Progress, None, torch.Tensor]]
BuildFunction = Callable[[ModelConfig, "str | Path"], nn.Module]
OptimiserFactory = Callable[[Sequence[nn.Parameter], float], torch.optim.Optimizer]
# (the model, the `loss_inputs` tuples of the training images) -> new values of fitted buffers, by attribute path
RefitFunction = Callable[[nn.Module, Iterable[tuple]], dict[str, torch.Tensor]]


def sgd_with_momentum(parameters: Sequence[nn.Parameter], learning_rate: float) -> torch.optim.Optimizer:
    """QAT's default optimiser: plain SGD, momentum 0.9."""
    return torch.optim.SGD(parameters, lr=learning_rate, momentum=0.9)


@dataclass(frozen=True)
class Training:
    """How a trainable method learns, which is also what quantization-aware fine-tuning repeats.

    `loss_inputs` names the model's method that its eval forward calls exactly once (as `self.<name>(...)`) and
    that returns a tuple; `loss(*that tuple)` is the training loss. QAT records the tuple inside the captured
    forward, so the fine-tuned graph is the deployed pipeline itself; `refit`, where given, reads the same tuples.
    """

    trained: tuple[str, ...]  # submodule paths whose parameters learn; all others are frozen
    loss_inputs: str
    loss: Callable[..., torch.Tensor]
    fine_tune_learning_rate: float  # QAT's rate: a fraction of training's, enough to absorb quantization error
    # QAT's optimiser. SGD's step grows with the loss's scale; a loss scaled up on purpose (CFA's 1 / nu) wants the
    # optimiser training used, whose steps do not.
    fine_tune_optimiser: OptimiserFactory = sgd_with_momentum
    # Fitted state computed from the trained networks' outputs (e.g. score normalisation) goes stale when QAT
    # fine-tunes them: `refit(model, loss_inputs of the training images through the fine-tuned, fake-quantized
    # graph)` returns the buffers' new values, which QAT writes into the graph it exports.
    refit: RefitFunction | None = None


@dataclass(frozen=True)
class MethodSpec:
    """One method. `build(config, weights)` returns an nn.Module whose eval forward maps N x 3 x S x S pixels
    (0..255) to (scores N, anomaly maps N x 1 x S x S); `fit` is a job generator that fits it on N x 3 x S x S uint8
    normal images, reading `config.settings`; it is also given each image's category, which a method may use (PaDiM
    keeps Gaussians per category) or ignore."""

    name: str
    family: str  # "knowledge distillation" | "memory bank"
    description: str  # one line, shown by --method and the Train page
    default_layer_group: str
    settings: type[MethodSettings]
    build: BuildFunction
    fit: FitFunction
    networks: tuple[str, ...]  # submodule paths that are neural networks (FP16 / INT8); the rest stays FP32
    training: Training | None = None  # None: fitting trains nothing (a memory bank), so QAT is not offered
    # A cheap way to score every training image out of fold while fitting (k-fold banks or statistics at about the
    # cost of one fit): thresholds then come from every normal image and none is held out. None: k-fold scores
    # cost k fits (`core.methods.out_of_fold`), so they are offered by a setting and the held-out split is the default.
    fit_out_of_fold: OutOfFoldFunction | None = None
    # Teach by correction in seconds: frames the operator marked good enter the fitted state (a memory bank, the
    # Gaussians) directly. None: the method learns by training, so marked frames are kept and a short fine-tune
    # (`core.teaching.fine_tune`) teaches them when asked.
    teach_good: TeachFunction | None = None

    @property
    def trains(self) -> bool:
        return self.training is not None
