"""Bring a saved model directory up to this version's code: the same weights, its graph rebuilt, its thresholds
re-chosen on its own held-out normal images.

A model saved before a change of the anomaly-map arithmetic (e.g. `core.methods.common.smoothed_map`) keeps its
old ONNX graph, which the live view runs, while evaluation and export rebuild the network from the weights with
the new code: the two would give slightly different scores against thresholds chosen for the old ones. Refreshing
makes them one model again. The directory is replaced atomically; a failure leaves it as it was.

Example:
    >>> run_to_end(refresh_job(Path("models/line3")))
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

from core.errors import InputError
from core.export.calibration import normal_images_by_category
from core.jobs import CancelToken, Progress
from core.metrics import ThresholdChooser
from core.metrics.thresholds import DEFAULT_TARGET_FRR
from core.model_store import load_model, save_model
from core.training import score_heldout


def refresh_job(
    model_dir: Path, data_roots: Sequence[Path] | None = None, cancel: CancelToken | None = None
) -> Generator[Progress, None, dict[str, float]]:
    """Rebuild `model_dir` in place; returns each category's threshold before and after ("bottle": (old, new))."""
    cancel = cancel or CancelToken()
    loaded = load_model(model_dir)
    manifest = loaded.manifest
    bases = list(manifest.thresholds.basis.values())
    if any(basis.source == "out-of-fold" for basis in bases):
        # Out-of-fold scores come from fold models that were never saved; no version before them needs a refresh.
        raise InputError(f"{model_dir}: its thresholds come from out-of-fold scores, which only training makes: "
                         "train it again instead")
    chooser = ThresholdChooser(bases[0].target_frr if bases else DEFAULT_TARGET_FRR, "held-out")
    heldout = normal_images_by_category(manifest, "heldout", data_roots)
    yield from score_heldout(chooser, loaded.network, heldout, loaded.config, cancel)
    thresholds = chooser.thresholds()
    cancel.raise_if_cancelled()
    yield Progress(0, 0, f"saving to {model_dir}", stage="save")
    save_model(loaded.network, loaded.config, Path(model_dir), categories=manifest.categories, thresholds=thresholds,
               holdout_fraction=manifest.holdout_fraction, data_roots=data_roots or manifest.data_roots,
               data_fingerprint=manifest.data_fingerprint, training=manifest.training)
    return {name: (manifest.thresholds.for_category(name), thresholds.for_category(name))
            for name in manifest.categories}
