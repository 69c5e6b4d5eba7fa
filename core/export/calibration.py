"""Calibration inputs for post-training quantization: training images, held-out images, or random-normal noise.

Jena et al. compare calibrating on training data with calibrating on random-normal inputs (and find the latter keeps
more accuracy for their unified models); held-out normal images are the third choice. Random-normal inputs are drawn
in the backbone's normalised space (mean 0, std 1 after normalisation) and mapped back to pixels, unclipped, since
that is the distribution the paper feeds the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.data.dataset import discover_categories, load_normal_images, split_holdout
from core.errors import InputError
from core.model_manifest import ModelManifest
from core.runtime.base import to_network_input

CALIBRATION_SOURCES = ("train", "heldout", "random-normal")


def normal_image_paths(manifest: ModelManifest, source: str, data_roots: Sequence[Path] | None) -> list[Path]:
    """The training or held-out normal images of the model's categories, split exactly as training split them."""
    return [path for paths in normal_images_by_category(manifest, source, data_roots).values() for path in paths]


def normal_images_by_category(
    manifest: ModelManifest, source: str, data_roots: Sequence[Path] | None
) -> dict[str, list[Path]]:
    """`normal_image_paths`, grouped by category name: the held-out share and split seed the manifest records."""
    roots = [Path(root) for root in (data_roots or manifest.data_roots)]
    if not roots:
        raise InputError("calibration on images needs the training data folders (--data)")
    by_category: dict[str, list[Path]] = {}
    for category in discover_categories(roots):
        fit_part, heldout = split_holdout(category.train, manifest.holdout_fraction, manifest.split_seed)
        by_category[category.name] = list(fit_part if source == "train" else heldout)
    return by_category


def calibration_inputs(
    manifest: ModelManifest, source: str, samples: int, data_roots: Sequence[Path] | None = None, seed: int = 0
) -> np.ndarray:
    """N x 3 x S x S float32 network inputs (pixels 0..255 scale) for calibrating a model with this manifest."""
    if source not in CALIBRATION_SOURCES:
        raise InputError(f"unknown calibration source '{source}' (choose from {', '.join(CALIBRATION_SOURCES)})")
    size = manifest.image_size
    rng = np.random.default_rng(seed)
    if source == "random-normal":
        mean = np.asarray(manifest.normalisation.mean, np.float32).reshape(1, 3, 1, 1)
        std = np.asarray(manifest.normalisation.std, np.float32).reshape(1, 3, 1, 1)
        return (rng.standard_normal((samples, 3, size, size), dtype=np.float32) * std + mean).astype(np.float32)
    paths = normal_image_paths(manifest, source, data_roots)
    if not paths and source == "heldout" and manifest.holdout_fraction == 0:
        raise InputError("the model held no normal images out (its thresholds come from out-of-fold scores of all "
                         "of them): calibrate on train or random-normal")
    if not paths:
        raise InputError(f"no {source} images to calibrate on")
    chosen = sorted(rng.choice(len(paths), size=min(samples, len(paths)), replace=False))
    loaded = load_normal_images([paths[index] for index in chosen], size, min_images=1)
    return to_network_input(loaded.images)
