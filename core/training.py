"""Train one unified model over several product categories, choose its thresholds and save it atomically.

Example:
    >>> config = ModelConfig(method="stfpm", settings=StudentSettings(epochs=10))
    >>> result = run_to_end(train_job(config, [Path("data/bottle"), Path("data/tile")], Path("models/demo")))
"""

from __future__ import annotations

import resource
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from core.backbones.weights import PRETRAINED
from core.data.dataset import (
    check_enough_to_train,
    discover_categories,
    fingerprint,
    iter_load_normal_images,
    split_holdout,
)
from core.inference import predict_arrays, to_pixels
from core.jobs import CancelToken, Progress
from core.errors import InputError
from core.methods.common.folds import MAX_FOLDS, MIN_FOLDS
from core.methods.config import ModelConfig
from core.methods.out_of_fold import fit_out_of_fold
from core.methods.registry import build_model, get_method, resolve_config
from core.methods.spec import MethodSpec
from core.metrics import ThresholdChooser
from core.metrics.thresholds import DEFAULT_TARGET_FRR
from core.model_manifest import Thresholds
from core.model_store import save_model
from core.profiling import RssSampler


# 10 folds: each fold model sees 90 % of the normal images. PaDiM's 100-dimensional Gaussians are data-hungry: with
# 5 folds (80 %) its out-of-fold scores on magnetic tile sat 18 % above what the full model gives new normal images
# (median, 300 images), with 10 folds 11 %; PatchCore's moved by under 1 % (27.96 vs 28.17) and costs no more.
DEFAULT_FOLDS = 10


@dataclass(frozen=True)
class TrainResult:
    """Where the model went and what training measured (seconds, peak RSS, image counts, skipped files)."""

    model_dir: Path
    summary: dict[str, Any]
    thresholds: Thresholds = Thresholds()


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_job(
    config: ModelConfig,
    data_roots: Sequence[Path],
    out_dir: Path,
    cancel: CancelToken | None = None,
    weights: str | Path = PRETRAINED,
    holdout_fraction: float = 0.1,
    target_frr: float = DEFAULT_TARGET_FRR,
    threshold_folds: int | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Fit `config.method` on the normal images of every category in `data_roots` as ONE model.

    Each category's threshold aims at `target_frr` false rejects, chosen from normal scores the model was not fitted
    on: with `threshold_folds` K >= 2, out-of-fold scores of every normal image (K folds) and the model learns from
    all of them; with 0, the scores of a held-out `holdout_fraction` of them. None: the method's default
    (`default_threshold_folds`). The model directory is written only when everything succeeded: cancelling or
    failing leaves the previous one in place.
    """
    cancel = cancel or CancelToken()
    config = resolve_config(config)
    spec = get_method(config.method)
    folds = default_threshold_folds(spec) if threshold_folds is None else threshold_folds
    if folds and not MIN_FOLDS <= folds <= MAX_FOLDS:
        raise InputError(f"threshold folds must be 0 (held out) or {MIN_FOLDS} to {MAX_FOLDS}, got {folds}")
    if not 0.0 < target_frr < 1.0:
        raise InputError(f"target false-reject rate must be above 0 and below 1, got {target_frr}")
    if folds:
        holdout_fraction = 0.0  # every normal image scores out of fold: none needs holding out
    torch.manual_seed(config.seed)
    started = time.perf_counter()
    categories = discover_categories([Path(root) for root in data_roots])
    train_paths: list[Path] = []
    heldout: dict[str, list[Path]] = {}
    for category in categories:
        check_enough_to_train(category)
        fit_part, heldout[category.name] = split_holdout(category.train, holdout_fraction, config.seed)
        train_paths += fit_part
    loaded = yield from iter_load_normal_images(train_paths, config.image_size, cancel=cancel)

    yield Progress(0, 0, f"building {config.method} on {config.backbone}", stage="build")
    network = build_model(config, weights)
    fit_started = time.perf_counter()
    pixels = to_pixels(loaded.images)
    category_of = {path: index for index, category in enumerate(categories) for path in category.train}
    image_categories = torch.tensor([category_of[path] for path in loaded.paths], dtype=torch.long)
    chooser = ThresholdChooser(target_frr, "out-of-fold" if folds else "held-out", folds)
    with RssSampler() as fit_memory:  # what fitting itself needs: activations, gradients, optimiser, memory bank
        if folds:
            scores, maps = yield from fit_out_of_fold(spec, config, network, lambda: build_model(config, weights),
                                                      pixels, image_categories, folds, cancel)
            for index, category in enumerate(categories):
                chooser.add(category.name, scores[image_categories == index].numpy(),
                            maps[image_categories == index].numpy())
        else:
            yield from spec.fit(network, pixels, config, cancel, image_categories)
    fit_seconds = time.perf_counter() - fit_started

    if not folds:
        yield from score_heldout(chooser, network, heldout, config, cancel)
    thresholds = chooser.thresholds()
    cancel.raise_if_cancelled()
    summary = {
        "train_seconds": round(time.perf_counter() - started, 2),
        "fit_seconds": round(fit_seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "fit_rss_increase_mb": round(fit_memory.increase_mb, 1),
        "train_images": len(loaded.paths),
        # what each category's fitted state holds (PaDiM's teach-by-correction updates its Gaussians from it)
        "images_per_category": dict(zip([category.name for category in categories],
                                        torch.bincount(image_categories, minlength=len(categories)).tolist())),
        "heldout_images": sum(len(paths) for paths in heldout.values()),
        "threshold_folds": folds,
        "target_frr": target_frr,
        "skipped_images": [[str(path), reason] for path, reason in loaded.skipped],
    }
    yield Progress(0, 0, f"saving to {out_dir}", stage="save")
    model_dir = save_model(network, config, Path(out_dir), categories=[category.name for category in categories],
                           thresholds=thresholds, holdout_fraction=holdout_fraction, data_roots=data_roots,
                           data_fingerprint=fingerprint(train_paths), training=summary)
    return TrainResult(model_dir, summary, thresholds)


def default_threshold_folds(spec: MethodSpec) -> int:
    """Out-of-fold thresholds by default where the method makes them at about the cost of one fit (its spec's
    `fit_out_of_fold`); elsewhere they cost K trainings, so the default stays the held-out split (0)."""
    return DEFAULT_FOLDS if spec.fit_out_of_fold is not None else 0


def score_heldout(
    chooser: ThresholdChooser, network: torch.nn.Module, heldout: dict[str, list[Path]], config: ModelConfig,
    cancel: CancelToken,
) -> Generator[Progress, None, None]:
    """Add the network's scores and maps of the held-out normal images to `chooser`."""
    for name, paths in heldout.items():
        if not paths:
            continue
        loaded = yield from iter_load_normal_images(paths, config.image_size, min_images=1, cancel=cancel)
        scores, maps = yield from predict_arrays(network, loaded.images, cancel=cancel)
        chooser.add(name, scores, maps)
