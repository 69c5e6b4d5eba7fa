"""The audit database: WAL mode, rows as written, the operator's action set later, filters, a versioned schema."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from audit_testkit import MODEL

from core.audit.history import moment, summary_lines, write_csv
from core.audit.records import CONFIRMED_NG, MARKED_GOOD, ModelIdentity, Verdict
from core.audit.store import SCHEMA_VERSION, AuditStore, HistoryFilter
from core.errors import InputError

OTHER = ModelIdentity(sha256="cd" * 32, precision="int8", path="/models/line-int8")


def _verdict(time: str, verdict: str, category: str, model: ModelIdentity = MODEL, frame: int = 1) -> Verdict:
    return Verdict(time, "file://line.mp4", frame, f"frame {frame}", category, 0.7 if verdict == "NG" else 0.2,
                   0.5, verdict, model)


def test_rows_round_trip_filter_and_take_the_operators_action(tmp_path: Path) -> None:
    db = tmp_path / "station" / "audit.sqlite"
    with AuditStore(db) as store:
        store.add([_verdict("2026-12-01T08:00:00.000+00:00", "OK", "bottle"),
                   _verdict("2026-12-01T09:00:00.000+00:00", "NG", "bottle", frame=2),
                   _verdict("2026-12-01T10:00:00.000+00:00", "NG", "tile", OTHER, frame=3)])
        assert store.verdicts()[0].frame == 3  # newest first
        first = store.verdicts()[-1]
        assert first == replace(_verdict("2026-12-01T08:00:00.000+00:00", "OK", "bottle"), id=1)  # as written

        ng_ids = [row.id for row in store.verdicts(HistoryFilter(verdict="NG"))]
        assert store.set_action(ng_ids[:1], CONFIRMED_NG) == 1 and store.set_action(ng_ids[1:], MARKED_GOOD) == 1
        assert {row.operator_action for row in store.verdicts(HistoryFilter(verdict="NG"))} == {CONFIRMED_NG,
                                                                                               MARKED_GOOD}
        with pytest.raises(InputError, match="'scrap': not one of marked_good, confirmed_ng"):
            store.set_action(ng_ids, "scrap")

        assert [row.frame for row in store.verdicts(HistoryFilter(since="2026-12-01T09:00:00.000+00:00",
                                                                  until="2026-12-01T10:00:00.000+00:00"))] == [2]
        assert [row.frame for row in store.verdicts(HistoryFilter(model="CDCD"))] == [3]  # a prefix, any case
        assert [row.frame for row in store.verdicts(HistoryFilter(category="bottle", verdict="OK"))] == [1]
        assert store.counts() == {("OK", "bottle"): 1, ("NG", "bottle"): 1, ("NG", "tile"): 1}
        assert store.categories() == ["bottle", "tile"] and store.models() == [OTHER, MODEL]
        assert summary_lines(store.counts())[-1].split() == ["all", "1", "2", "66.7"]

        count = write_csv(store, HistoryFilter(category="bottle"), tmp_path / "out.csv")
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert count == 2 and lines[0].startswith("id,time,source,frame") and ",NG," in lines[2]

    with sqlite3.connect(db) as connection:  # what another program sees
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_what_cannot_be_an_audit_database_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"{tmp_path}: is a folder"):
        AuditStore(tmp_path)
    garbage = tmp_path / "notes.sqlite"
    garbage.write_bytes(b"these are not the droids" * 100)
    with pytest.raises(InputError, match="notes.sqlite: cannot open the audit database"):
        AuditStore(garbage)
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(InputError, match="newer.sqlite: audit database of schema version 2, newer"):
        AuditStore(newer)


def test_time_arguments() -> None:
    from datetime import datetime, timezone

    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert moment("2h", now) == "2026-12-01T10:00:00.000+00:00"
    assert moment("1.5d", now) == "2026-11-30T00:00:00.000+00:00"
    assert moment("2026-12-01T08:00+01:00", now) == "2026-12-01T07:00:00.000+00:00"
    assert moment("2026-12-01", now) == "2026-12-01T00:00:00.000+00:00"  # no offset: UTC
    with pytest.raises(InputError, match="time 'yesterday': neither a duration"):
        moment("yesterday", now)
