"""The audit database: one SQLite file in WAL mode, written by the live loop and read by `history` and the window.

WAL with `synchronous=NORMAL`: a commit is a write to the log without an fsync, and what was committed survives the
writer being killed (`kill -9`; tests/core/audit kills a real writer mid-batch). Only a power cut may lose the last
second of commits, which is what batching risks anyway. Readers (the History page, `history`) never block the writer.

The schema carries a version (`PRAGMA user_version`): a database of a newer version is refused with a message, an
older one would be migrated here.

Example:
    >>> with AuditStore(Path("audit.sqlite")) as store:
    ...     store.add([verdict])
    ...     store.set_action([1], MARKED_GOOD)
    ...     rows = store.verdicts(HistoryFilter(verdict="NG"))
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.audit.records import (CONFIRMED_NG, OPERATOR_ACTIONS, VERDICTS, ModelIdentity, PartResult, SelfTestRun,
                                Verdict, utc_now)
from core.errors import InputError

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000  # the window and `inspect` may write the same file; a writer waits its turn this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    frame INTEGER NOT NULL,
    frame_name TEXT NOT NULL,
    category TEXT NOT NULL,
    score REAL NOT NULL,
    threshold REAL NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('OK', 'NG')),
    model_version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    precision TEXT NOT NULL,
    model_path TEXT NOT NULL,
    image_path TEXT,
    operator_action TEXT CHECK (operator_action IN ('marked_good', 'confirmed_ng')),
    action_time TEXT
);
CREATE INDEX IF NOT EXISTS verdicts_by_time ON verdicts (time);
CREATE INDEX IF NOT EXISTS verdicts_by_image ON verdicts (image_path) WHERE image_path IS NOT NULL;
CREATE TABLE IF NOT EXISTS self_tests (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    precision TEXT NOT NULL,
    model_path TEXT NOT NULL,
    passed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS self_test_parts (
    run INTEGER NOT NULL REFERENCES self_tests (id),
    part TEXT NOT NULL,
    category TEXT NOT NULL,
    expected TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    threshold REAL NOT NULL
);
"""
_COLUMNS = ("time", "source", "frame", "frame_name", "category", "score", "threshold", "verdict", "model_version",
            "model_sha256", "precision", "model_path", "image_path", "operator_action")


@dataclass(frozen=True)
class HistoryFilter:
    """Which verdicts to show: times as stored (UTC ISO text, see `core.audit.records`), `since` inclusive and
    `until` exclusive; `model` matches the start of the model's sha256. None (or "") means any."""

    since: str | None = None
    until: str | None = None
    verdict: str | None = None
    category: str | None = None
    model: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses, values = [], []
        for clause, value in (("time >= ?", self.since), ("time < ?", self.until), ("verdict = ?", self.verdict),
                              ("category = ?", self.category)):
            if value:
                clauses.append(clause)
                values.append(value)
        if self.model:
            clauses.append("substr(model_sha256, 1, ?) = ?")
            values += [len(self.model), self.model.lower()]
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), values


class AuditStore:
    """One connection to the audit database at `path` (created, with its folder, when missing). Use it from the
    thread that opened it; every writer opens its own."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"{self.path}: is a folder, not an audit database file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._check_version()
        except (OSError, sqlite3.Error) as error:
            raise InputError(f"{self.path}: cannot open the audit database ({error})") from None

    def _check_version(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(f"{self.path}: audit database of schema version {version}, newer than this program's "
                             f"{SCHEMA_VERSION}; update the program")
        with self._db:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------------------------------
    def add(self, verdicts: Sequence[Verdict]) -> None:
        """Write `verdicts` in one transaction (the caller batches: one commit per batch, not per frame)."""
        with self._db:
            self._db.executemany(
                f"INSERT INTO verdicts ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                [_row_values(verdict) for verdict in verdicts])

    def set_action(self, ids: Iterable[int], action: str | None) -> int:
        """Record what the operator said of verdicts `ids` (marked_good, confirmed_ng, or None to clear it);
        returns how many rows changed."""
        if action is not None and action not in OPERATOR_ACTIONS:
            raise InputError(f"operator action {action!r}: not one of {', '.join(OPERATOR_ACTIONS)}")
        stamp = None if action is None else utc_now()
        with self._db:
            cursor = self._db.executemany("UPDATE verdicts SET operator_action = ?, action_time = ? WHERE id = ?",
                                          [(action, stamp, int(row)) for row in ids])
        return cursor.rowcount

    def forget_images(self, image_paths: Iterable[str]) -> None:
        """The disk cap removed these NG frames: their rows stay, with no image."""
        with self._db:
            self._db.executemany("UPDATE verdicts SET image_path = NULL WHERE image_path = ?",
                                 [(path,) for path in image_paths])

    def add_self_test(self, run: SelfTestRun) -> int:
        """Write a self-test run and its parts; returns the run's id."""
        model = run.model
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO self_tests (time, model_version, model_sha256, precision, model_path, passed) "
                "VALUES (?, ?, ?, ?, ?, ?)", (run.time, model.version, model.sha256, model.precision, model.path,
                                              int(run.passed)))
            run_id = int(cursor.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO self_test_parts (run, part, category, expected, verdict, score, threshold) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(run_id, part.part, part.category, part.expected, part.verdict, part.score, part.threshold)
                 for part in run.parts])
        return run_id

    # -- reading -----------------------------------------------------------------------------------------------
    def verdicts(self, where: HistoryFilter = HistoryFilter(), limit: int | None = None) -> list[Verdict]:
        """Verdicts matching `where`, newest first (at most `limit`)."""
        return list(self.iter_verdicts(where, limit))

    def iter_verdicts(self, where: HistoryFilter = HistoryFilter(), limit: int | None = None,
                      oldest_first: bool = False) -> Iterator[Verdict]:
        clause, values = where.where()
        order = "ASC" if oldest_first else "DESC"
        tail = "" if limit is None else f" LIMIT {int(limit)}"
        query = f"SELECT id, {', '.join(_COLUMNS)} FROM verdicts{clause} ORDER BY time {order}, id {order}{tail}"
        for row in self._db.execute(query, values):
            yield _verdict(row)

    def confirmed_ng(self) -> list[Verdict]:
        """Every verdict the operator confirmed NG that still keeps its frame's image, newest first."""
        query = (f"SELECT id, {', '.join(_COLUMNS)} FROM verdicts WHERE operator_action = ? AND image_path IS NOT NULL"
                 f" ORDER BY time DESC, id DESC")
        return [_verdict(row) for row in self._db.execute(query, [CONFIRMED_NG])]

    def counts(self, where: HistoryFilter = HistoryFilter()) -> dict[tuple[str, str], int]:
        """How many verdicts match `where`, by (verdict, category)."""
        clause, values = where.where()
        rows = self._db.execute(f"SELECT verdict, category, COUNT(*) FROM verdicts{clause} "
                                f"GROUP BY verdict, category", values)
        return {(verdict, category): count for verdict, category, count in rows}

    def categories(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT DISTINCT category FROM verdicts ORDER BY category")]

    def models(self) -> list[ModelIdentity]:
        """Every model that gave a verdict, most recent first."""
        rows = self._db.execute("SELECT model_sha256, precision, model_path, model_version, MAX(id) AS last "
                                "FROM verdicts GROUP BY model_sha256, model_version ORDER BY last DESC")
        return [ModelIdentity(sha, precision, path, version) for sha, precision, path, version, _ in rows]

    def last_self_test(self, sha256: str | None = None) -> tuple[str, bool] | None:
        """(time, passed) of the latest self-test (of the model with `sha256`, when given), or None."""
        clause, values = ("WHERE model_sha256 = ?", [sha256]) if sha256 else ("", [])
        row = self._db.execute(f"SELECT time, passed FROM self_tests {clause} ORDER BY time DESC, id DESC LIMIT 1",
                               values).fetchone()
        return None if row is None else (row[0], bool(row[1]))

    def self_test_parts(self, run_id: int) -> list[PartResult]:
        rows = self._db.execute("SELECT part, category, expected, verdict, score, threshold FROM self_test_parts "
                                "WHERE run = ? ORDER BY rowid", (run_id,))
        return [PartResult(*row) for row in rows]


def _row_values(verdict: Verdict) -> tuple[Any, ...]:
    if verdict.verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict.verdict!r} is not OK or NG")
    model = verdict.model
    return (verdict.time, verdict.source, verdict.frame, verdict.frame_name, verdict.category, verdict.score,
            verdict.threshold, verdict.verdict, model.version, model.sha256, model.precision, model.path,
            verdict.image_path, verdict.operator_action)


def _verdict(row: Sequence[Any]) -> Verdict:
    (row_id, time, source, frame, frame_name, category, score, threshold, verdict, version, sha256, precision,
     model_path, image_path, action) = row
    return Verdict(time, source, frame, frame_name, category, score, threshold, verdict,
                   ModelIdentity(sha256, precision, model_path, version), image_path, action, row_id)
