"""Versions of a model directory: every change (a teach, a fine-tune, a rollback) is a new numbered version.

The trained model is version 1. Each version's files (manifest, weights, graph) are kept under `DIR/versions/N/`,
with a log `DIR/versions.json` (number, UTC time, reason, sha256 of the weights, parent). The directory's top-level
files always are the current version, so every loader, bundle export and the live runtime read a versioned directory
exactly as before. History is never rewritten: a rollback to N is a new version whose files are N's.

A change is written as a whole new directory (`core.files.write_directory_atomically`): the kept versions and any
other content (taught frames) are hard-linked into it (their files are never modified in place, only replaced), the
new version is added, and the directory is swapped into place in one rename. A failed or refused change therefore
leaves the current version untouched, and a killed one leaves nothing behind. A directory with no log yet (trained
before versions existed) gets its current files snapshotted as version 1 by its first change. Torch-free.

Example:
    >>> entry = commit_version(Path("models/line1"), candidate_dir, "marked 2 images good")
    >>> [(version.number, version.reason) for version in read_versions(Path("models/line1"))]
    [(1, 'trained'), (2, 'marked 2 images good')]
    >>> rollback(Path("models/line1"), 1).reason
    'rollback to 1'
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from datetime import datetime, timezone
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from core.artefact_dir import MANIFEST
from core.errors import InputError
from core.files import write_directory_atomically, write_file_atomically
from core.model_manifest import WEIGHTS, ModelManifest, read_manifest

VERSIONS_LOG = "versions.json"
VERSIONS_DIR = "versions"
LOG_FORMAT = "inspection-station-model-versions"
LOG_VERSION = 1


@dataclass(frozen=True)
class ModelVersion:
    """One entry of the log. `parent` is the version it was made from (None for version 1)."""

    number: int
    time: str
    reason: str
    weights_sha256: str
    parent: int | None = None


@dataclass(frozen=True)
class VersionLog:
    """The log of a model directory and which version is current."""

    current: int
    versions: tuple[ModelVersion, ...]

    def entry(self, number: int) -> ModelVersion:
        for version in self.versions:
            if version.number == number:
                return version
        known = ", ".join(str(version.number) for version in self.versions)
        raise InputError(f"version {number}: no such version (this model has {known})")


def read_log(model_dir: Path) -> VersionLog:
    """The directory's log; a directory without one has a single version 1 (its current files)."""
    model_dir = Path(model_dir)
    path = model_dir / VERSIONS_LOG
    if not path.is_file():
        manifest = read_manifest(model_dir, verify=False)
        return VersionLog(1, (_first_version(manifest),))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != LOG_FORMAT or data.get("format_version") != LOG_VERSION:
            raise ValueError(f"format {data.get('format')!r} version {data.get('format_version')!r}")
        versions = tuple(ModelVersion(**entry) for entry in data["versions"])
        return VersionLog(int(data["current"]), versions)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"{path}: not a readable version log ({error})") from None


def read_versions(model_dir: Path) -> list[ModelVersion]:
    return list(read_log(model_dir).versions)


def current_version(model_dir: Path) -> int:
    """The current version's number (1 for a directory never changed, or with no readable log)."""
    if not (Path(model_dir) / VERSIONS_LOG).is_file():
        return 1
    try:
        return read_log(model_dir).current
    except InputError:
        return 1


def version_dir(model_dir: Path, number: int) -> Path:
    return Path(model_dir) / VERSIONS_DIR / str(number)


def commit_version(model_dir: Path, source: Path, reason: str, parent: int | None = None,
                   based_on: str | None = None) -> ModelVersion:
    """Make the model directory at `source` (a verified model directory, e.g. a candidate saved to a scratch
    folder) the new current version of `model_dir`, with `reason`; returns the new log entry. `parent` defaults
    to the current version. `based_on`: the sha256 of the weights the candidate was made from; when the current
    version is no longer those (another teach or a rollback committed meanwhile), nothing is written."""
    model_dir, source = Path(model_dir).absolute(), Path(source)
    with _locked(model_dir):
        return _commit(model_dir, source, reason, parent, based_on)


def _commit(model_dir: Path, source: Path, reason: str, parent: int | None, based_on: str | None) -> ModelVersion:
    current = read_manifest(model_dir)  # the current version must verify before anything is built on it
    if based_on is not None and current.files.get(WEIGHTS) != based_on:
        raise InputError(f"{model_dir}: the model changed while this change was prepared (another teach or a "
                         f"rollback); nothing was written, teach again")
    candidate = read_manifest(source)
    log = read_log(model_dir)
    number = max(version.number for version in log.versions) + 1
    entry = ModelVersion(number, _utc_now(), reason, candidate.files[WEIGHTS],
                         log.current if parent is None else parent)
    snapshot_first = not (model_dir / VERSIONS_LOG).is_file()
    new_log = VersionLog(number, (*log.versions, entry))

    def fill(folder: Path) -> None:
        top_level = {MANIFEST, *current.files, VERSIONS_LOG}
        for path in sorted(model_dir.rglob("*")):
            relative = path.relative_to(model_dir)
            if path.is_file() and relative.as_posix() not in top_level:
                _link(path, folder / relative)
        if snapshot_first:
            _link_model_files(model_dir, current, folder / VERSIONS_DIR / "1")
        _link_model_files(source, candidate, folder / VERSIONS_DIR / str(number))
        _link_model_files(source, candidate, folder)
        _write_log(folder, new_log)

    write_directory_atomically(model_dir, fill, replaceable=_is_model_dir, kind="model directory")
    return entry


def rollback(model_dir: Path, number: int) -> ModelVersion:
    """Make version `number` current again, as a new version "rollback to N" (its files verified first)."""
    log = read_log(model_dir)
    log.entry(number)
    if number == log.current:
        raise InputError(f"version {number} is already the current version of {model_dir}")
    kept = version_dir(model_dir, number)
    if not kept.is_dir():
        raise InputError(f"{kept}: version {number}'s files are missing")
    return commit_version(model_dir, kept, f"rollback to {number}", parent=number)


def describe(model_dir: Path) -> list[str]:
    """One line per version, the current one marked with '*'."""
    log = read_log(model_dir)
    lines = []
    for version in log.versions:
        mark = "*" if version.number == log.current else " "
        parent = "" if version.parent is None else f"  (from {version.parent})"
        lines.append(f"{mark} {version.number:>3}  {version.time}  weights {version.weights_sha256[:12]}  "
                     f"{version.reason}{parent}")
    return lines


@contextmanager
def _locked(model_dir: Path) -> Iterator[None]:
    """One change of `model_dir` at a time, across processes (the window and the command line)."""
    lock = model_dir.parent / f".{model_dir.name}.versions.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _first_version(manifest: ModelManifest) -> ModelVersion:
    return ModelVersion(1, str(manifest.training.get("trained_at", "")) or "-", "trained",
                        manifest.files.get(WEIGHTS, ""))


def _link_model_files(source: Path, manifest: ModelManifest, target: Path) -> None:
    for name in (MANIFEST, *manifest.files):
        _link(Path(source) / name, target / name)


def _link(source: Path, target: Path) -> None:
    """Hard-link (files of a version are replaced, never rewritten, so sharing them is safe); copy where the file
    system cannot link."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _write_log(folder: Path, log: VersionLog) -> None:
    data = {"format": LOG_FORMAT, "format_version": LOG_VERSION, "current": log.current,
            "versions": [asdict(version) for version in log.versions]}
    write_file_atomically(folder / VERSIONS_LOG, (json.dumps(data, indent=2) + "\n").encode())


def _is_model_dir(path: Path) -> bool:
    try:
        read_manifest(path, verify=False)
    except InputError:
        return False
    return True


def newest_first(versions: Sequence[ModelVersion]) -> list[ModelVersion]:
    return sorted(versions, key=lambda version: version.number, reverse=True)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
