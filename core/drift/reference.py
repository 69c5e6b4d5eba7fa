"""The training reference for drift: the per-frame statistics over the model's normal images, and their scores.

Image statistics come from every normal image the model was made from (the fit part and the held-out part, split
exactly as training split them: `core.export.calibration.normal_images_by_category`). Scores are the ones the
thresholds were chosen from, kept in the manifest (`Thresholds.normal_scores`: out of fold for every normal image, or
the held-out images'; a bundle's are on its own precision's scale). Models saved before those were kept get their
held-out images scored here. Never the fit images' own scores: a memory bank holds their patches, so they sit below
any new normal part's and would make an honest line look drifted.

Where it is kept: computed on first use and cached as JSON in the station's data folder, beside the audit database
(`<db folder>/<db stem>-drift/<model sha256>.json`), keyed by the sha256 of the graph the runtime runs. Not at
training time: models trained before this existed, the shipped demo model and deployment bundles would have none,
and a model folder may be read-only; the sha256 key gives a re-trained or re-taught model its own reference, and
once cached the reference survives its data folders being moved away.

Example:
    >>> reference, note = reference_for(runtime, cache_folder(default_db_path()))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.artefact_dir import MANIFEST
from core.audit.records import ModelIdentity
from core.data.dataset import load_normal_images
from core.drift.statistics import IMAGE_STATISTICS, SCORE, STATISTICS, frame_statistics
from core.errors import InputError
from core.export.calibration import normal_images_by_category
from core.files import write_file_atomically
from core.model_manifest import ModelManifest, read_manifest

REFERENCE_FORMAT = "inspection-station-drift-reference"
REFERENCE_VERSION = 2  # 2: scores from the manifest's normal scores where it has them
_BATCH = 16


class DriftUnavailable(InputError):
    """No reference can be had (a model whose data folders are gone, a bundle without its source model)."""


@dataclass(frozen=True)
class DriftReference:
    """Reference values per category and statistic (`STATISTICS`); `images` normal images were read."""

    model_sha256: str
    values: Mapping[str, Mapping[str, tuple[float, ...]]]
    images: int

    def of(self, category: str, statistic: str) -> np.ndarray:
        """The values of one category ("" or an unknown one: all categories pooled)."""
        if category in self.values:
            return np.asarray(self.values[category][statistic], np.float64)
        return np.concatenate([np.asarray(by_statistic[statistic], np.float64) for by_statistic in
                               self.values.values()] or [np.zeros(0)])

    def to_json(self) -> dict[str, Any]:
        return {"format": REFERENCE_FORMAT, "format_version": REFERENCE_VERSION, "model_sha256": self.model_sha256,
                "images": self.images,
                "values": {category: {name: list(values) for name, values in by_statistic.items()}
                           for category, by_statistic in self.values.items()}}

    @classmethod
    def from_json(cls, data: object, where: Path) -> DriftReference:
        """The record of a cached reference; InputError naming the file when it is not one this version reads."""
        if not isinstance(data, dict) or data.get("format") != REFERENCE_FORMAT:
            raise InputError(f"{where}: not a drift reference")
        if data.get("format_version") != REFERENCE_VERSION:
            raise InputError(f"{where}: drift reference version {data.get('format_version')!r}, this version "
                             f"reads {REFERENCE_VERSION}")
        try:
            values = {str(category): {name: tuple(float(value) for value in by_statistic[name])
                                      for name in STATISTICS}
                      for category, by_statistic in data["values"].items()}
            return cls(str(data["model_sha256"]), values, int(data["images"]))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InputError(f"{where}: damaged drift reference ({error})") from error


def cache_folder(db_path: Path) -> Path:
    """Where references are cached for the station whose audit database is `db_path` (beside it)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}-drift")


def reference_for(runtime: Any, folder: Path | None) -> tuple[DriftReference, str]:
    """The reference of `runtime`'s model, read from `folder` or built and cached there (`folder` None: built,
    not cached); with a one-line note saying which. DriftUnavailable when it cannot be built."""
    sha256 = ModelIdentity.of(runtime.manifest, runtime.model_dir).sha256
    cached = Path(folder) / f"{sha256}.json" if folder is not None and sha256 else None
    if cached is not None and cached.is_file():
        try:
            reference = DriftReference.from_json(json.loads(cached.read_text()), cached)
            if reference.model_sha256 == sha256:
                return reference, f"drift reference: {reference.images} normal images, cached in {cached}"
        except (OSError, ValueError, InputError):
            pass  # a damaged or foreign cache file is rebuilt below and replaced
    started = time.perf_counter()
    reference = build_reference(runtime, sha256)
    note = f"drift reference: {reference.images} normal images read in {time.perf_counter() - started:.1f} s"
    if cached is None:
        return reference, note
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomically(cached, json.dumps(reference.to_json()).encode())
        return reference, f"{note}, cached in {cached}"
    except (OSError, InputError) as error:
        return reference, f"{note}, not cached ({cached}: {error})"


def build_reference(runtime: Any, sha256: str = "") -> DriftReference:
    """Read the model's normal images and take their statistics; the scores are the manifest's normal scores, or,
    for a category it has none of, the held-out images scored with `runtime`."""
    manifest = training_manifest(runtime)
    recorded = _recorded_normal_scores(runtime.manifest)
    size = runtime.image_size
    try:
        fit = normal_images_by_category(manifest, "train", None)
        heldout = normal_images_by_category(manifest, "heldout", None)
    except InputError as error:
        raise DriftUnavailable(f"drift off: the training images of {runtime.model_dir} cannot be read "
                               f"({error})") from error
    values: dict[str, dict[str, tuple[float, ...]]] = {}
    count = 0
    for category in fit:
        fit_images = _load(fit[category], size)
        held_images = _load(heldout[category], size)
        images = np.concatenate([fit_images, held_images])
        count += len(images)
        table = np.array([frame_statistics(image) for image in images]).reshape(-1, len(IMAGE_STATISTICS))
        scores = recorded.get(category) or [
            float(score) for start in range(0, len(held_images), _BATCH)
            for score in runtime.predict(held_images[start : start + _BATCH])[0]]
        values[category] = {name: tuple(table[:, column].tolist()) for column, name in enumerate(IMAGE_STATISTICS)}
        values[category][SCORE] = tuple(scores)
    if not count:
        raise DriftUnavailable(f"drift off: no normal images of {runtime.model_dir} were found")
    return DriftReference(sha256, values, count)


def training_manifest(runtime: Any) -> ModelManifest:
    """The manifest that names the training data: the model's own, or for a bundle its source model's."""
    manifest = runtime.manifest
    if isinstance(manifest, ModelManifest):
        return manifest
    source = getattr(manifest, "source_model", None)
    if not source or not (Path(source) / MANIFEST).is_file():
        raise DriftUnavailable(f"drift off: the bundle {runtime.model_dir} does not name a source model that is "
                               f"still there ({source or 'none'}), so its training images are unknown")
    return read_manifest(Path(source), verify=False)


def _recorded_normal_scores(manifest: Any) -> dict[str, list[float]]:
    """The normal scores the runtime's own manifest (model or bundle) chose its thresholds from, per category."""
    thresholds = getattr(manifest, "thresholds", None)
    recorded = getattr(thresholds, "normal_scores", None) or {}
    return {str(name): [float(score) for score in scores] for name, scores in recorded.items() if len(scores)}


def _load(paths: list[Path], size: int) -> np.ndarray:
    if not paths:
        return np.zeros((0, size, size, 3), np.uint8)
    return load_normal_images(paths, size, min_images=1).images
