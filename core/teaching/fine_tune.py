"""A short fine-tune of a method that learns by training (STFPM, PaSTe, RD, US, CFA) on the frames marked good.

The frames kept in `DIR/taught/good/` (`core.teaching.taught`) join the model's training images (where the data
roots still hold them: fine-tuning on a few frames alone would drift the networks away from everything else),
repeated so that they make up about a tenth of what each epoch sees. The method's own fit runs from the current
weights for `epochs` (default: a fifth of training's, at least 1) at a tenth of training's learning rate: enough to
learn the frames without undoing what training learned. Its progress and cancel are those of any job.

The score scale moves with the networks, so the thresholds are chosen again, by the same rule and target, on the
images they came from: the held-out split where training held one out. A model whose thresholds came from k-fold
models keeps them (re-choosing would train k models), and the report says so. Then the check and the commit are
teaching's (`core.teaching.job.keep_if_checked`).

Example:
    >>> result = run_to_end(fine_tune_job(Path("models/line1"), epochs=3))
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from core.data.dataset import discover_categories, iter_load_normal_images, split_holdout
from core.data.images import read_image
from core.errors import InputError
from core.inference import to_pixels
from core.jobs import CancelToken, Progress
from core.methods.registry import get_method
from core.metrics import ThresholdChooser
from core.metrics.thresholds import DEFAULT_TARGET_FRR
from core.model_store import load_model
from core.runtime import open_runtime
from core.teaching.check import score_arrays
from core.teaching.images import Frame
from core.teaching.job import TeachResult, keep_if_checked
from core.teaching.taught import taught_frames
from core.training import score_heldout

TAUGHT_SHARE = 0.1  # of the images an epoch sees
LEARNING_RATE_SCALE = 0.1


def fine_tune_job(model_dir: Path, epochs: int | None = None, *, check_dirs: Sequence[Path] = (),
                  audit_db: Path | None = None, reason: str | None = None, cancel: CancelToken | None = None,
                  ) -> Generator[Progress, None, TeachResult]:
    """Fine-tune the model at `model_dir` on its kept frames (see the module docstring)."""
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    model_dir = Path(model_dir)
    loaded = load_model(model_dir)
    spec = get_method(loaded.config.method)
    if not spec.trains:
        raise InputError(f"{model_dir}: {spec.name} learns frames marked good at once (teach --good); "
                         f"there is nothing to fine-tune")
    kept = taught_frames(model_dir)
    if not kept:
        raise InputError(f"{model_dir}: no frames are kept for a fine-tune; mark some good first (teach --good)")
    manifest, config = loaded.manifest, loaded.config
    categories = list(manifest.categories)
    frames = [Frame(str(path), read_image(path), category) for path, category in kept]
    pixels = np.stack([frame.image for frame in frames])
    current = open_runtime(model_dir, prefer="onnxruntime")
    before = yield from score_arrays(current.predict, pixels, len(frames), cancel, "scoring the kept frames")

    found = _training_categories(manifest.data_roots, categories, model_dir)
    fit_paths, heldout, labels = [], {}, []
    for index, name in enumerate(categories):
        fit_part, heldout[name] = split_holdout(found[name].train, manifest.holdout_fraction, manifest.split_seed)
        fit_paths += fit_part
        labels += [index] * len(fit_part)
    loaded_images = yield from iter_load_normal_images(fit_paths, config.image_size, cancel=cancel)
    label_of = dict(zip(fit_paths, labels))
    train_labels = [label_of[path] for path in loaded_images.paths]
    repeats = max(1, round(TAUGHT_SHARE * len(loaded_images.paths) / len(frames)))
    taught_labels = [categories.index(frame.category) if frame.category in categories else 0 for frame in frames]
    images = np.concatenate([loaded_images.images, np.repeat(pixels, repeats, axis=0)])
    image_labels = torch.tensor(train_labels + taught_labels * repeats, dtype=torch.long)

    settings = config.settings
    epochs = epochs or max(1, round(settings.epochs / 5))
    tuned = replace(config, settings=replace(settings, epochs=epochs,
                                             learning_rate=settings.learning_rate * LEARNING_RATE_SCALE))
    network = loaded.network
    network.train()
    torch.manual_seed(config.seed)
    yield from spec.fit(network, to_pixels(images), tuned, cancel, image_labels)
    network.eval()

    thresholds, note = manifest.thresholds, "thresholds kept (they came from k-fold models)"
    if any(heldout.values()):
        target = float(manifest.training.get("target_frr", DEFAULT_TARGET_FRR))
        chooser = ThresholdChooser(target, "held-out", 0)
        yield from score_heldout(chooser, network, heldout, config, cancel)
        thresholds, note = chooser.thresholds(), "thresholds chosen again on the held-out images"
    training = {**manifest.training, "fine_tuned": int(manifest.training.get("fine_tuned", 0)) + 1,
                "fine_tune_epochs": epochs, "fine_tuned_frames": len(frames)}
    reason = reason or f"fine-tuned {epochs} epoch(s) on {len(frames)} kept frame(s); {note}"
    return (yield from keep_if_checked(model_dir, network, config,
                                       replace(manifest, thresholds=thresholds, training=training), current, pixels,
                                       frames, before, check_dirs, audit_db, reason, cancel, {}, started))


def _training_categories(roots: Sequence[str], categories: Sequence[str], model_dir: Path) -> dict:
    try:
        found = {category.name: category for category in discover_categories([Path(root) for root in roots])}
    except InputError as error:
        raise InputError(f"{model_dir}: its training images are needed for a fine-tune and are not where they were "
                         f"({error}); fine-tuning on the kept frames alone would forget the rest") from None
    missing = [name for name in categories if name not in found]
    if missing:
        raise InputError(f"{model_dir}: the training images of {', '.join(missing)} are gone; a fine-tune needs them")
    return found
