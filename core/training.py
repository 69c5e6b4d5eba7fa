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
from core.methods.config import ModelConfig
from core.methods.registry import build_model, get_method, resolve_config
from core.metrics import ThresholdChooser
from core.model_manifest import Thresholds
from core.model_store import save_model
from core.profiling import RssSampler


@dataclass(frozen=True)
class TrainResult:
    """Where the model went and what training measured (seconds, peak RSS, image counts, skipped files)."""

    model_dir: Path
    summary: dict[str, Any]


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
) -> Generator[Progress, None, TrainResult]:
    """Fit `config.method` on the normal images of every category in `data_roots` as ONE model.

    A share of each category's normal images is held out; their scores set the decision threshold. The model
    directory is written only when everything succeeded: cancelling or failing leaves the previous one in place.
    """
    cancel = cancel or CancelToken()
    config = resolve_config(config)
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
    with RssSampler() as fit_memory:  # what fitting itself needs: activations, gradients, optimiser, memory bank
        yield from get_method(config.method).fit(network, pixels, config, cancel, image_categories)
    fit_seconds = time.perf_counter() - fit_started

    thresholds = yield from thresholds_from_heldout(network, heldout, config, cancel)
    cancel.raise_if_cancelled()
    summary = {
        "train_seconds": round(time.perf_counter() - started, 2),
        "fit_seconds": round(fit_seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "fit_rss_increase_mb": round(fit_memory.increase_mb, 1),
        "train_images": len(loaded.paths),
        "heldout_images": sum(len(paths) for paths in heldout.values()),
        "skipped_images": [[str(path), reason] for path, reason in loaded.skipped],
    }
    yield Progress(0, 0, f"saving to {out_dir}", stage="save")
    model_dir = save_model(network, config, Path(out_dir), categories=[category.name for category in categories],
                           thresholds=thresholds, holdout_fraction=holdout_fraction, data_roots=data_roots,
                           data_fingerprint=fingerprint(train_paths), training=summary)
    return TrainResult(model_dir, summary)


def thresholds_from_heldout(
    network: torch.nn.Module, heldout: dict[str, list[Path]], config: ModelConfig, cancel: CancelToken
) -> Generator[Progress, None, Thresholds]:
    """Thresholds from the network's scores and maps of the held-out normal images (see `ThresholdChooser`)."""
    chooser = ThresholdChooser()
    for name, paths in heldout.items():
        if not paths:
            continue
        loaded = yield from iter_load_normal_images(paths, config.image_size, min_images=1, cancel=cancel)
        scores, maps = yield from predict_arrays(network, loaded.images, cancel=cancel)
        chooser.add(name, scores, maps)
    return chooser.thresholds()
