"""The check before a change is kept: every known defect is re-scored by the candidate model, and a change that
would let one pass is refused.

Known defects are the model's categories' test defects (`<category>/test/<defect>/`, where the data roots in the
manifest still exist), the frames the operator confirmed NG in the audit trail (their model-sized frame, kept
beside the overlay), and any folders given (`--check DIR`). A defect "flips" when the current model judges it NG
and the candidate OK, each by its category's threshold (the live rule: `LiveSettings.threshold_for`). The
candidate scores every defect; the current model only re-scores those the candidate passes, which are few, so
the check costs about one pass of the candidate over the defects.

Example:
    >>> defects = known_defects(manifest, audit_db, [Path("scratches/")])
    >>> result = run_to_end(check_job(current_runtime, candidate_runtime, defects))
    >>> result.flipped
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audit.frames import raw_frame_path
from core.audit.store import AuditStore
from core.data.dataset import discover_category, expand_image_inputs
from core.data.images import read_image, resize_image
from core.errors import InputError
from core.jobs import CancelToken, Progress
from core.model_manifest import ModelManifest
from core.sources.live import LiveSettings, ScoringRuntime
from core.teaching.images import frame_category

BATCH = 8
READ_THREADS = 2


@dataclass(frozen=True)
class KnownDefect:
    """An image that must stay NG: where it is, its category ("" when not known) and where it came from."""

    path: Path
    category: str
    origin: str  # "test set", "confirmed NG", "--check"


@dataclass(frozen=True)
class Flip:
    defect: KnownDefect
    before: float
    after: float
    threshold: float

    def describe(self) -> str:
        return f"{self.defect.path} {self.before:.4g} -> {self.after:.4g} (threshold {self.threshold:.4g})"


@dataclass(frozen=True)
class CheckResult:
    checked: int
    flipped: tuple[Flip, ...]
    by_origin: dict[str, int]

    @property
    def passed(self) -> bool:
        return not self.flipped

    def summary(self) -> str:
        origins = ", ".join(f"{count} {origin}" for origin, count in self.by_origin.items())
        detail = f" ({origins})" if origins else ""
        if self.passed:
            return f"check: {self.checked} known defects re-scored{detail}, none turned OK"
        return (f"check: {self.checked} known defects re-scored{detail}, {len(self.flipped)} would turn OK: "
                + "; ".join(flip.describe() for flip in self.flipped))


def known_defects(manifest: ModelManifest, audit_db: Path | None, check_dirs: Sequence[Path]) -> list[KnownDefect]:
    """Every known defect image of the model's categories (see the module docstring)."""
    categories = list(manifest.categories)
    found: list[KnownDefect] = []
    for root in manifest.data_roots:
        if not Path(root).is_dir():
            continue  # the training data moved or is gone: its test defects cannot be checked
        try:
            category = discover_category(Path(root))
        except InputError:
            continue
        if categories and category.name not in categories:
            continue
        found += [KnownDefect(sample.path, category.name, "test set") for sample in category.test if sample.label == 1]
    if audit_db is not None and Path(audit_db).is_file():
        with AuditStore(Path(audit_db)) as store:
            for verdict in store.confirmed_ng():
                raw = raw_frame_path(Path(audit_db), verdict.image_path)
                if raw is not None and raw.is_file() and (not categories or verdict.category in categories
                                                          or not verdict.category):
                    found.append(KnownDefect(raw, verdict.category, "confirmed NG"))
    for path in expand_image_inputs(check_dirs):
        found.append(KnownDefect(path, frame_category(path, categories), "--check"))
    return found


def check_job(current: ScoringRuntime, candidate: ScoringRuntime, defects: Sequence[KnownDefect],
              cancel: CancelToken | None = None) -> Generator[Progress, None, CheckResult]:
    """Score `defects` with `candidate`; those it passes are re-scored with `current`: NG there is a flip."""
    cancel = cancel or CancelToken()
    settings = LiveSettings.for_runtime(candidate)
    thresholds = np.array([settings.threshold_for(defect.category) for defect in defects], np.float64)
    after = yield from score_images(candidate, [defect.path for defect in defects], cancel, "checking known defects")
    passing = [index for index in range(len(defects)) if after[index] < thresholds[index]]
    flipped: list[Flip] = []
    if passing:
        before = yield from score_images(current, [defects[index].path for index in passing], cancel,
                                         "re-scoring the defects the change would pass")
        current_settings = LiveSettings.for_runtime(current)
        for index, score in zip(passing, before):
            if score >= current_settings.threshold_for(defects[index].category):
                flipped.append(Flip(defects[index], float(score), float(after[index]), float(thresholds[index])))
    origins: dict[str, int] = {}
    for defect in defects:
        origins[defect.origin] = origins.get(defect.origin, 0) + 1
    return CheckResult(len(defects), tuple(flipped), origins)


def score_images(runtime: ScoringRuntime, paths: Sequence[Path], cancel: CancelToken, message: str
                 ) -> Generator[Progress, None, np.ndarray]:
    """Scores of the images at `paths`, read and resized on a few threads while the runtime scores."""
    size = runtime.image_size
    return (yield from score_arrays(runtime.predict, _read_resized(paths, size), len(paths), cancel, message))


def score_arrays(predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], images, count: int,
                 cancel: CancelToken, message: str) -> Generator[Progress, None, np.ndarray]:
    """Scores of `count` model-sized images from the iterable `images`, in batches."""
    scores: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    done = 0
    for image in images:
        batch.append(image)
        if len(batch) == BATCH:
            scores.append(predict(np.stack(batch))[0])
            done += len(batch)
            batch = []
            cancel.raise_if_cancelled()
            yield Progress(done, count, message, stage="check")
    if batch:
        scores.append(predict(np.stack(batch))[0])
        yield Progress(count, count, message, stage="check")
    return np.concatenate(scores).astype(np.float64) if scores else np.zeros(0)


def _read_resized(paths: Sequence[Path], size: int):
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="check-read") as pool:
        yield from pool.map(lambda path: resize_image(read_image(path), size), paths)
