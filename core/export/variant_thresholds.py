"""Thresholds valid for an exported variant's own graph (quantization shifts scores), by the chooser training used.

A model trained with a held-out split: the variant scores the held-out normal images itself, and they choose, as
they did for FP32. A model with out-of-fold thresholds: those scores came from fold models that the variant's graph
is not, and its scores of the training images are in-sample (too low). So the variant's scores of a sample of the
training images are set against FP32's scores of the same images; the least-squares line between them (how the
precision shifts and scales scores) carries the FP32 out-of-fold scores onto the variant's scale
(`core.metrics.thresholds.carried_scores`), and those choose. A wrong sign or degenerate line falls back to a shift.

Example:
    >>> thresholds, drift = variant_thresholds(manifest, Path("int8/model.onnx"), Path("model/model.onnx"), roots, "int8")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.data.dataset import load_normal_images
from core.errors import InputError
from core.export.calibration import normal_images_by_category
from core.metrics import ThresholdChooser
from core.metrics.thresholds import carried_scores
from core.model_manifest import ModelManifest, Thresholds
from core.runtime.onnx_backend import OnnxRuntime

MAPPING_IMAGES = 32  # per category: enough for a line through the score pairs, a few seconds for an INT8 graph


def variant_thresholds(
    manifest: ModelManifest, graph: Path, fp32_graph: Path, data_roots: Sequence[Path] | None, variant_name: str
) -> tuple[Thresholds, dict[str, float] | None]:
    """Thresholds of the variant and its largest score drift from FP32 on the images it scored. A variant whose
    scores are not finite there is refused (a value past FP16's 65504 in a network, say): thresholds chosen on NaN
    would pass every image silently. Without access to the training folders the FP32 thresholds are kept, and the
    drift is unknown (None)."""
    variant, fp32 = OnnxRuntime(graph, manifest.image_size), OnnxRuntime(fp32_graph, manifest.image_size)
    basis = next(iter(manifest.thresholds.basis.values()), None)
    out_of_fold = basis is not None and basis.source == "out-of-fold" and bool(manifest.thresholds.normal_scores)
    chooser = (ThresholdChooser(basis.target_frr, basis.source, basis.folds, basis.confidence) if basis
               else ThresholdChooser())
    added: list[tuple[str, np.ndarray, np.ndarray]] = []
    variant_scores, fp32_scores = [], []
    try:
        by_category = normal_images_by_category(manifest, "train" if out_of_fold else "heldout", data_roots)
        for name, paths in by_category.items():
            if out_of_fold:
                paths = _spread_sample(paths, MAPPING_IMAGES)
            if not paths or (out_of_fold and name not in manifest.thresholds.normal_scores):
                continue
            images = load_normal_images(paths, manifest.image_size, min_images=1).images
            scores, maps = variant.predict(images)
            variant_scores.append(scores)
            fp32_scores.append(fp32.predict(images)[0])
            added.append((name, scores, maps))
    except (InputError, OSError):
        return manifest.thresholds, None
    if not fp32_scores:
        return manifest.thresholds, None
    scores, reference = np.concatenate(variant_scores), np.concatenate(fp32_scores)
    broken = int((~np.isfinite(scores)).sum())
    if broken:
        kind = "training" if out_of_fold else "held-out"
        raise InputError(f"{variant_name}: the graph gives non-finite scores on {broken} of {len(scores)} {kind} "
                         f"normal images (a value past the precision's range); export another precision")
    for (name, own, maps), reference_part in zip(added, fp32_scores):
        normal = carried_scores(manifest.thresholds.normal_scores[name], reference_part, own) if out_of_fold else own
        chooser.add(name, normal, maps)
    relative = np.abs(scores - reference) / max(float(np.abs(reference).max()), 1e-12)
    return chooser.thresholds(), {"max_relative_score_drift": float(relative.max()), "images": len(scores)}


def _spread_sample(paths: Sequence[Path], count: int) -> list[Path]:
    """Up to `count` of `paths`, evenly spread over the (sorted) list: the same ones every run."""
    if len(paths) <= count:
        return list(paths)
    return [paths[int(index)] for index in np.linspace(0, len(paths) - 1, count).round()]

