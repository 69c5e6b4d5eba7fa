"""The QAT job: fine-tune a trained model with fake quantization, then write a Q/DQ ONNX graph.

Steps: load the model directory, read the training normal images (the same split training used), capture the
network with torch.export (batch norm folded, see `capture`), annotate the convolutions of the networks its method's
spec declares with torchao's PT2E `prepare_qat_pt2e`, fine-tune the trained networks on the method's own training
loss through the fake-quantized graph (for STFPM: the student against the fake-quantized teacher), refit the
method's fitted statistics through the fine-tuned graph where its spec asks for it (`Training.refit`), convert with
`convert_pt2e` and export the converted graph to ONNX (see `onnx_qdq`).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path

import torch
from torch.fx import GraphModule

from core.data.dataset import iter_load_normal_images
from core.errors import InputError
from core.export.calibration import normal_image_paths
from core.export.ptq import FLAVOURS
from core.inference import to_pixels
from core.jobs import CancelToken, Progress
from core.methods.registry import get_method
from core.methods.spec import Training
from core.model_store import load_model

REFIT_BATCH = 16


def qat_job(
    model_dir: Path,
    data_roots: Sequence[Path],
    out_path: Path,
    *,
    flavour: str,
    epochs: int = 2,
    learning_rate: float | None = None,
    batch_size: int = 8,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, Path]:
    """Write an INT8 Q/DQ ONNX graph (opset 17) of the model in `model_dir` at `out_path`, fine-tuned by QAT on the
    normal training images of `data_roots` (default: the folders the model was trained on); return `out_path`.

    `flavour` "cpu" is what ONNX Runtime runs fast on x86, "tensorrt" what TensorRT's explicit quantization takes
    (see `quantizer`). Only the networks the method trains are fine-tuned (at its spec's fine-tuning rate unless
    `learning_rate` is given); frozen networks and the anomaly-map arithmetic are as they were.
    Nothing is written when the job fails or is cancelled.
    """
    # torchao takes seconds to import: only the jobs that quantize pay for it.
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    from core.export.qat.capture import capture, graph_scopes
    from core.export.qat.onnx_qdq import export_qdq_onnx
    from core.export.qat.quantizer import ConvQuantizer

    cancel = cancel or CancelToken()
    if flavour not in FLAVOURS:
        raise InputError(f"unknown QAT flavour '{flavour}' (choose from {', '.join(FLAVOURS)})")
    if epochs < 1 or batch_size < 1 or (learning_rate is not None and not learning_rate > 0):
        raise InputError(f"QAT needs epochs >= 1, batch size >= 1 and a positive learning rate "
                         f"(got {epochs}, {batch_size}, {learning_rate})")
    model = load_model(Path(model_dir))
    spec = get_method(model.config.method)
    if spec.training is None:
        raise InputError(f"{model_dir}: QAT needs a trained network; method '{spec.name}' has nothing to train: "
                         f"use PTQ")
    size = model.config.image_size
    paths = normal_image_paths(model.manifest, "train", data_roots)
    loaded = yield from iter_load_normal_images(paths, size, cancel=cancel)

    yield Progress(0, 0, "capturing the network for quantization-aware training", stage="prepare")
    prepared = prepare_qat_pt2e(capture(model.network, spec, size),
                                ConvQuantizer(flavour, graph_scopes(spec.networks)))
    cancel.raise_if_cancelled()
    rate = learning_rate if learning_rate is not None else spec.training.fine_tune_learning_rate
    images = to_pixels(loaded.images)
    yield from fine_tune(prepared, spec.training, images, epochs, rate, batch_size, seed=model.config.seed,
                         cancel=cancel)
    if spec.training.refit is not None:
        yield Progress(0, 0, "refitting statistics through the fine-tuned graph", stage="refit")
        refit(prepared, spec.training, model.network, images, cancel)

    yield Progress(0, 0, "converting to INT8", stage="convert")
    converted = convert_pt2e(prepared)
    cancel.raise_if_cancelled()
    yield Progress(0, 0, f"writing {out_path}", stage="export")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    try:
        export_qdq_onnx(converted, size, partial)
        os.replace(partial, out_path)  # atomic: a reader never sees half a graph
    finally:
        partial.unlink(missing_ok=True)
    return out_path


def fine_tune(
    prepared: GraphModule,
    training: Training,
    images: torch.Tensor,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, None]:
    """The method's fine-tuning optimiser (SGD unless its spec says otherwise) on its training loss through the
    fake-quantized graph (`capture`'s outputs); a job generator.

    `images` is N x 3 x S x S uint8. Ranges follow the data (moving average) until the last epoch, which trains
    with them frozen, so the weights settle on the ranges that will be exported.
    """
    from torchao.quantization.pt2e import disable_observer

    from core.export.qat.capture import trainable_parameters

    cancel = cancel or CancelToken()
    generator = torch.Generator().manual_seed(seed)
    optimiser = training.fine_tune_optimiser(trainable_parameters(prepared), learning_rate)
    batches_per_epoch = max(1, -(-len(images) // batch_size))
    total = epochs * batches_per_epoch
    step = 0
    for epoch in range(epochs):
        if epochs > 1 and epoch == epochs - 1:
            prepared.apply(disable_observer)
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            cancel.raise_if_cancelled()
            batch = images[order[start : start + batch_size]].float()
            step += 1
            _, _, loss_inputs = prepared(batch)
            loss = training.loss(*loss_inputs)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            yield Progress(step, total, f"QAT epoch {epoch + 1}/{epochs}", {"loss": float(loss.detach())}, stage="qat")


def refit(prepared: GraphModule, training: Training, network: torch.nn.Module, images: torch.Tensor,
          cancel: CancelToken | None = None) -> None:
    """Replace fitted buffers of the captured graph with `training.refit`'s values, computed from the `loss_inputs`
    of `images` (N x 3 x S x S uint8) through the fine-tuned, fake-quantized graph. Observers are frozen first: the
    ranges QAT settled on are the ones exported, and the refit must see the graph that will be deployed."""
    from torchao.quantization.pt2e import disable_observer

    from core.export.qat.capture import graph_scopes

    cancel = cancel or CancelToken()
    prepared.apply(disable_observer)

    def loss_inputs():  # noqa: ANN202 - a generator of the method's own tuples
        with torch.no_grad():
            for start in range(0, len(images), REFIT_BATCH):
                cancel.raise_if_cancelled()
                yield prepared(images[start : start + REFIT_BATCH].float())[2]

    for path, value in training.refit(network, loss_inputs()).items():
        (graph_path,) = graph_scopes((path,))
        buffer = prepared.get_buffer(graph_path)
        if buffer.shape != value.shape:
            raise RuntimeError(f"refit gave {path} of shape {tuple(value.shape)}, the graph has {tuple(buffer.shape)}")
        buffer.copy_(value)
