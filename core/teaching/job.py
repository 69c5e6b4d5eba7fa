"""Teach a model that frames are good, in seconds for memory-bank methods, as a new model version.

The job: the current model scores the frames (the "before"); the method's `teach_good` hook puts them into the
fitted state of a fresh copy; the candidate is saved (graph re-exported) into a scratch folder beside the model;
it scores the frames again (the "after") and the known defects (`core.teaching.check`); only when no defect turns
OK does the candidate become the model directory's new current version (`core.model_versions`), else it is dropped
and nothing is written. Scores come from ONNX Runtime on the saved graphs, so they are what the live line gives.

Thresholds are kept. They were chosen from the normal images' (out-of-fold) scores at the operator's false-reject
target; a frame or two more among hundreds barely moves that choice, and re-choosing it would re-score every
training image (a fit's worth of time) and change the verdict of parts nobody asked about. The operator moves a
threshold on the threshold view.

Methods that train (no `teach_good` hook) keep the frames in `DIR/taught/good/<category>/` for a fine-tune
(`core.teaching.fine_tune`); that write is not a new version, since the model itself has not changed yet.

Example:
    >>> frames = frames_from_paths([Path("false_alarm.png")], categories)
    >>> result = run_to_end(teach_job(Path("models/line1"), frames, check_dirs=[Path("scratches")]))
    >>> result.version, result.check.summary()
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from core.audit.location import teach_cache_folder
from core.data.dataset import list_images, split_holdout
from core.data.images import resize_image
from core.errors import InputError
from core.files import scratch_directory
from core.inference import to_pixels
from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.methods.registry import get_method
from core.model_manifest import WEIGHTS, ModelManifest
from core.model_store import load_model, save_model
from core.model_versions import commit_version
from core.runtime import ModelRuntime, open_runtime
from core.sources.live import LiveSettings
from core.teaching.check import CheckResult, check_job, known_defects, score_arrays
from core.teaching.images import Frame
from core.teaching.taught import keep_taught_frames


@dataclass(frozen=True)
class FrameScore:
    name: str
    category: str
    before: float
    after: float | None
    threshold: float

    def describe(self) -> str:
        after = "" if self.after is None else (f" -> {self.after:.4g} "
                                               f"{'NG' if self.after >= self.threshold else 'OK'}")
        before = "NG" if self.before >= self.threshold else "OK"
        label = f"  {self.category}" if self.category else ""
        return f"{self.name}{label}: {self.before:.4g} {before}{after} (threshold {self.threshold:.4g})"


@dataclass(frozen=True)
class TeachResult:
    """What a teach did. `version` is the new version's number (None when refused or when the frames were only
    kept for a fine-tune); `refusal` the one-line reason nothing was written."""

    frames: tuple[FrameScore, ...]
    check: CheckResult | None
    version: int | None = None
    refusal: str | None = None
    kept: tuple[Path, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> bool:
        return self.refusal is not None


def teach_job(model_dir: Path, frames: Sequence[Frame], *, check_dirs: Sequence[Path] = (),
              audit_db: Path | None = None, reason: str | None = None, cancel: CancelToken | None = None,
              ) -> Generator[Progress, None, TeachResult]:
    """Teach the model at `model_dir` that `frames` are good (see the module docstring)."""
    cancel = cancel or CancelToken()
    if not frames:
        raise InputError("no frames to teach: give at least one image marked good")
    model_dir = Path(model_dir)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    yield Progress(0, 0, f"loading {model_dir}", stage="load")
    current = open_runtime(model_dir, prefer="onnxruntime")
    loaded = load_model(model_dir)
    spec = get_method(loaded.config.method)
    size = loaded.config.image_size
    pixels = np.stack([resize_image(frame.image, size) for frame in frames])
    live = LiveSettings.for_runtime(current)
    thresholds = [live.threshold_for(frame.category) for frame in frames]
    before = yield from score_arrays(current.predict, pixels, len(frames), cancel, "scoring the frames")
    seconds["load_and_score_before"] = time.perf_counter() - started
    if spec.teach_good is None:
        kept = keep_taught_frames(model_dir, frames, pixels)
        scores = tuple(FrameScore(frame.name, frame.category, float(score), None, threshold)
                       for frame, score, threshold in zip(frames, before, thresholds))
        return TeachResult(scores, None, kept=tuple(kept), seconds=seconds)

    manifest = loaded.manifest
    categories = list(manifest.categories)
    labels = torch.tensor([categories.index(frame.category) if frame.category in categories else -1
                           for frame in frames], dtype=torch.long)
    counts = images_per_category(manifest)
    step = time.perf_counter()
    network = loaded.network
    yield Progress(0, 0, f"teaching {len(frames)} frame(s) to the {spec.name} model", stage="teach")
    used = yield from spec.teach_good(network, to_pixels(pixels), labels, counts, loaded.config, cancel)
    seconds["teach"] = time.perf_counter() - step
    training = dict(manifest.training)
    if counts is not None:
        added = torch.bincount(used[used >= 0], minlength=len(categories)).tolist()
        training["images_per_category"] = {name: int(count + extra)
                                           for name, count, extra in zip(categories, counts, added)}
    training["taught_images"] = int(training.get("taught_images", 0)) + len(frames)
    return (yield from keep_if_checked(model_dir, network, loaded.config, replace(manifest, training=training),
                                       current, pixels, frames, before, check_dirs, audit_db,
                                       reason or f"marked {len(frames)} frame(s) good: "
                                       + ", ".join(Path(frame.name).name for frame in frames[:3]),
                                       cancel, seconds, started))


def keep_if_checked(model_dir: Path, network: torch.nn.Module, config: ModelConfig, manifest: ModelManifest,
                    current: ModelRuntime, pixels: np.ndarray, frames: Sequence[Frame], before: np.ndarray,
                    check_dirs: Sequence[Path], audit_db: Path | None, reason: str,
                    cancel: CancelToken, seconds: dict[str, float], started: float,
                    ) -> Generator[Progress, None, TeachResult]:
    """Save the changed `network` as a candidate beside `model_dir` (with `manifest`'s thresholds, categories and
    training summary), score `frames` and the known defects with it, and commit it as the new version unless a
    defect would turn OK. Shared by teaching and fine-tuning."""
    with scratch_directory(model_dir) as scratch:
        step = time.perf_counter()
        yield Progress(0, 0, "exporting the candidate model", stage="export")
        candidate_dir = save_model(network, config, scratch / "candidate", categories=manifest.categories,
                                   thresholds=manifest.thresholds, holdout_fraction=manifest.holdout_fraction,
                                   data_roots=[Path(root) for root in manifest.data_roots],
                                   data_fingerprint=manifest.data_fingerprint, training=manifest.training)
        seconds["export"] = time.perf_counter() - step
        step = time.perf_counter()
        candidate = open_runtime(candidate_dir, prefer="onnxruntime")
        after = yield from score_arrays(candidate.predict, pixels, len(frames), cancel, "scoring the frames again")
        live = LiveSettings.for_runtime(candidate)
        thresholds = [live.threshold_for(frame.category) for frame in frames]
        scores = tuple(FrameScore(frame.name, frame.category, float(old), float(new), threshold)
                       for frame, old, new, threshold in zip(frames, before, after, thresholds))
        check = yield from check_job(current, candidate, known_defects(manifest, audit_db, check_dirs), cancel,
                                     None if audit_db is None else teach_cache_folder(audit_db))
        seconds["check"] = time.perf_counter() - step
        if not check.passed:
            refusal = (f"refused, nothing written: {len(check.flipped)} known defect(s) would turn OK: "
                       + "; ".join(flip.describe() for flip in check.flipped))
            return TeachResult(scores, check, refusal=refusal, seconds=seconds)
        cancel.raise_if_cancelled()
        step = time.perf_counter()
        entry = commit_version(model_dir, candidate_dir, reason, based_on=current.manifest.files.get(WEIGHTS))
        seconds["commit"] = time.perf_counter() - step
    seconds["total"] = time.perf_counter() - started
    return TeachResult(scores, check, version=entry.number, seconds=seconds)


def images_per_category(manifest: ModelManifest) -> list[int] | None:
    """How many images each category's fitted state holds: as training recorded it, else counted again from the
    data roots with the same held-out split (skipped images left out), else None."""
    categories = list(manifest.categories)
    recorded = manifest.training.get("images_per_category")
    if isinstance(recorded, dict) and all(name in recorded for name in categories):
        return [int(recorded[name]) for name in categories]
    # Listed, not discovered: discovery reads every test mask too, seconds that counting never needs. An MVTec
    # layout trains on train/good, a plain folder on its images.
    roots = {Path(root).name: (Path(root) / "train" / "good" if (Path(root) / "train" / "good").is_dir()
                               else Path(root)) for root in manifest.data_roots}
    if any(name not in roots or not roots[name].is_dir() for name in categories):
        return None
    skipped = {str(entry[0]) for entry in manifest.training.get("skipped_images", [])}
    counts = []
    for name in categories:
        fit_part, _ = split_holdout(list_images(roots[name]), manifest.holdout_fraction, manifest.split_seed)
        counts.append(sum(1 for path in fit_part if str(path) not in skipped))
    return counts
