"""The check before a change is kept: every known defect is re-scored by the candidate model, and a change that
would let one pass is refused.

Known defects are the model's categories' test defects (`<category>/test/<defect>/`, where the data roots in the
manifest still exist), the frames the operator confirmed NG in the audit trail (their model-sized frame, kept
beside the overlay), and any folders given (`--check DIR`). A defect "flips" when the current model judges it NG
and the candidate OK, each by its category's threshold (the live rule: `LiveSettings.threshold_for`). The
candidate scores every defect; the current model only re-scores those the candidate passes, which are few, so
the check costs about one pass of the candidate over the defects. The test-set defects at model size are cached
beside the audit database (hundreds of full-size images take seconds to decode; the cache is keyed by their paths,
sizes and times, so a changed image is read again).

Example:
    >>> defects = known_defects(manifest, audit_db, [Path("scratches/")])
    >>> result = run_to_end(check_job(current_runtime, candidate_runtime, defects))
    >>> result.flipped
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.audit.frames import raw_frame_path
from core.audit.store import AuditStore
from core.data.dataset import expand_image_inputs, list_images
from core.data.images import read_image, resize_image
from core.errors import InputError
from core.files import write_file_atomically
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
    for root in map(Path, manifest.data_roots):
        if categories and root.name not in categories:
            continue
        # The defect folders as listed: discovery would read every mask too (seconds), which a check never needs.
        # A root that moved or is gone contributes nothing.
        test = root / "test"
        for folder in sorted(test.iterdir()) if test.is_dir() else []:
            if folder.is_dir() and folder.name != "good" and not folder.name.startswith("."):
                found += [KnownDefect(path, root.name, "test set") for path in list_images(folder)]
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
              cancel: CancelToken | None = None, cache: Path | None = None) -> Generator[Progress, None, CheckResult]:
    """Score `defects` with `candidate`; those it passes are re-scored with `current`: NG there is a flip. The
    test-set defects at model size are cached in `cache` (a folder; None: read every time)."""
    cancel = cancel or CancelToken()
    settings = LiveSettings.for_runtime(candidate)
    thresholds = np.array([settings.threshold_for(defect.category) for defect in defects], np.float64)
    pixels = defect_pixels(defects, candidate.image_size, cache)
    after = yield from score_arrays(candidate.predict, pixels, len(defects), cancel, "checking known defects")
    passing = [index for index in range(len(defects)) if after[index] < thresholds[index]]
    flipped: list[Flip] = []
    if passing:
        before = yield from score_arrays(current.predict, pixels[passing], len(passing), cancel,
                                         "re-scoring the defects the change would pass")
        current_settings = LiveSettings.for_runtime(current)
        for index, score in zip(passing, before):
            if score >= current_settings.threshold_for(defects[index].category):
                flipped.append(Flip(defects[index], float(score), float(after[index]), float(thresholds[index])))
    origins: dict[str, int] = {}
    for defect in defects:
        origins[defect.origin] = origins.get(defect.origin, 0) + 1
    return CheckResult(len(defects), tuple(flipped), origins)


def defect_pixels(defects: Sequence[KnownDefect], size: int, cache: Path | None) -> np.ndarray:
    """N x S x S x 3 uint8: every defect read and resized as a live frame is. The test-set ones (hundreds, the
    same every time) come from a cache keyed by their paths, sizes and modification times, when there is one."""
    stable = [index for index, defect in enumerate(defects) if defect.origin == "test set"]
    pixels = np.empty((len(defects), size, size, 3), np.uint8)
    cached = _cached(cache, [defects[index].path for index in stable], size)
    if cached is not None:
        pixels[stable] = cached
    rest = [index for index in range(len(defects)) if cached is None or index not in set(stable)]
    for index, image in zip(rest, _read_resized([defects[index].path for index in rest], size)):
        pixels[index] = image
    if cached is None and cache is not None and stable:
        _store(cache, [defects[index].path for index in stable], size, pixels[stable])
    return pixels


def score_arrays(predict: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], images: np.ndarray, count: int,
                 cancel: CancelToken, message: str) -> Generator[Progress, None, np.ndarray]:
    """Scores of `count` model-sized images (N x S x S x 3 uint8), in batches."""
    scores: list[np.ndarray] = []
    for start in range(0, count, BATCH):
        scores.append(predict(np.ascontiguousarray(images[start : start + BATCH]))[0])
        cancel.raise_if_cancelled()
        yield Progress(min(start + BATCH, count), count, message, stage="check")
    return np.concatenate(scores).astype(np.float64) if scores else np.zeros(0)


def _read_resized(paths: Sequence[Path], size: int) -> Iterator[np.ndarray]:
    with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="check-read") as pool:
        yield from pool.map(lambda path: resize_image(read_image(path), size), paths)


def _cache_file(cache: Path, paths: Sequence[Path], size: int) -> Path:
    key = [size] + [[str(path), path.stat().st_mtime_ns, path.stat().st_size] for path in paths]
    return Path(cache) / f"defects-{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]}.npy"


def _cached(cache: Path | None, paths: Sequence[Path], size: int) -> np.ndarray | None:
    if cache is None or not paths:
        return None
    try:
        found = np.load(_cache_file(cache, paths, size))
    except (OSError, ValueError):  # not cached yet, a file gone, or a damaged cache (rebuilt)
        return None
    return found if found.shape == (len(paths), size, size, 3) and found.dtype == np.uint8 else None


def _store(cache: Path, paths: Sequence[Path], size: int, pixels: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(pixels))
    try:
        Path(cache).mkdir(parents=True, exist_ok=True)
        write_file_atomically(_cache_file(cache, paths, size), buffer.getvalue())
    except (OSError, InputError):  # a full disk or a read-only folder: the check works, only slower next time
        pass
