"""What the audit trail stores, as frozen records: the model a verdict came from, one verdict row, one self-test.

Times are UTC ISO 8601 strings with milliseconds and an explicit offset (`2026-12-01T21:55:46.123+00:00`): one
fixed format, so that comparing the text compares the times and SQLite's index on it serves the time filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.model_manifest import ONNX_GRAPH, WEIGHTS, BundleManifest, ModelManifest
from core.model_versions import current_version

# A model directory never changed, and a bundle (its versions stay with the model it came from), is version 1.
DEFAULT_MODEL_VERSION = 1
OK, NG = "OK", "NG"
VERDICTS = (OK, NG)
MARKED_GOOD, CONFIRMED_NG = "marked_good", "confirmed_ng"
OPERATOR_ACTIONS = (MARKED_GOOD, CONFIRMED_NG)


def utc_now() -> str:
    return utc_text(datetime.now(timezone.utc))


def utc_text(moment: datetime) -> str:
    """`moment` in the stored format (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class ModelIdentity:
    """Which model gave a verdict: its version, the sha256 of the file the runtime runs (the ONNX graph, or the
    weights for the PyTorch backend) as the verified manifest lists it, so nothing is hashed again, and its
    precision (fp32, fp16, int8)."""

    sha256: str
    precision: str
    path: str
    version: int = DEFAULT_MODEL_VERSION

    @classmethod
    def of(cls, manifest: ModelManifest | BundleManifest, model_dir: Path) -> ModelIdentity:
        files = manifest.files
        sha256 = files.get(ONNX_GRAPH) or files.get(WEIGHTS) or ""
        version = current_version(model_dir) if isinstance(manifest, ModelManifest) else DEFAULT_MODEL_VERSION
        return cls(sha256=sha256, precision=manifest.precision, path=str(Path(model_dir).absolute()), version=version)

    @classmethod
    def of_device(cls, status: Mapping[str, Any]) -> ModelIdentity:
        """The bundle a device inspected with, from its status (`core/deploy/device/live.py` sends its graph's
        sha256 and precision; older releases did not: empty; the `jetson://` source adds the host). `path` says
        where: host and bundle."""
        where = f"{status.get('host', '?')}:{status.get('bundle') or status.get('release') or '?'}"
        return cls(sha256=str(status.get("model_sha256") or ""), precision=str(status.get("precision") or ""),
                   path=where)


@dataclass(frozen=True)
class Verdict:
    """One row of the `verdicts` table. `image_path` is the NG frame's overlay JPEG relative to the database's
    folder (None for OK frames, and once the disk cap pruned it); `id` is None until the row is written."""

    time: str
    source: str
    frame: int
    frame_name: str
    category: str
    score: float
    threshold: float
    verdict: str
    model: ModelIdentity
    image_path: str | None = None
    operator_action: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class PartResult:
    """One registered part scored by a self-test: `expected` is OK for a known good part, NG for a known bad one."""

    part: str
    category: str
    expected: str
    verdict: str
    score: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.verdict == self.expected


@dataclass(frozen=True)
class SelfTestRun:
    """A start-of-shift self-test: every registered part of the model's categories, and when it ran."""

    time: str
    model: ModelIdentity
    parts: tuple[PartResult, ...]

    @property
    def passed(self) -> bool:
        return bool(self.parts) and all(part.passed for part in self.parts)

    @property
    def failures(self) -> tuple[PartResult, ...]:
        return tuple(part for part in self.parts if not part.passed)
