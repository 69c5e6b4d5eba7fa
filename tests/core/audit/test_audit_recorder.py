"""The live loop's recorder: rows are committed in batches (per N rows or per second), never one fsync per frame;
NG frames are kept as JPEG with their overlay under a disk cap, oldest removed first, their rows kept."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
from audit_testkit import CONTEXT, result, row_count

from core.audit.location import frames_folder
from core.audit.recorder import AuditRecorder
from core.audit.store import AuditStore


def test_rows_are_committed_per_batch_of_rows_and_per_second(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    recorder = AuditRecorder(db, batch_rows=5, batch_seconds=3600)
    try:
        for index in range(1, 5):
            recorder.record(result(index, 0.1), CONTEXT)
        time.sleep(0.3)
        assert row_count(db) == 0  # four rows wait for the fifth: one transaction per batch
        recorder.record(result(5, 0.1), CONTEXT)
        deadline = time.monotonic() + 5
        while row_count(db) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert row_count(db) == 5
    finally:
        recorder.close()

    recorder = AuditRecorder(db, batch_rows=1000, batch_seconds=0.2)
    try:
        recorder.record(result(6, 0.1), CONTEXT)
        started = time.monotonic()
        while row_count(db) < 6 and time.monotonic() - started < 5:
            time.sleep(0.02)
        assert row_count(db) == 6 and time.monotonic() - started < 2  # a lone row waits about a second at most
        recorder.record(result(7, 0.1), CONTEXT)
    finally:
        recorder.close()
    assert row_count(db) == 7  # closing commits what was pending


def test_ng_frames_are_kept_with_their_overlay_under_a_disk_cap(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    recorder = AuditRecorder(db, frame_cap_mb=0)  # measure one frame's size first, then cap at three of them
    recorder.record(result(1, 0.9, size=96), CONTEXT)
    recorder.close()
    with AuditStore(db) as store:
        assert store.verdicts()[0].image_path is None  # a cap of 0 keeps no image, the row stays
    sizes = [path.stat().st_size for path in frames_folder(db).iterdir()]
    assert sizes == []

    recorder = AuditRecorder(db, frame_cap_mb=3.5 * 10_000 / 2**20)
    for index in range(2, 12):
        recorder.record(result(index, 0.9 if index % 2 else 0.2, size=96), CONTEXT)  # odd frames NG
    recorder.close()
    with AuditStore(db) as store:
        rows = store.verdicts()
    kept = [row for row in rows if row.image_path]
    assert all(row.verdict == "NG" for row in kept) and len(rows) == 11
    files = sorted(frames_folder(db).iterdir())
    assert 0 < sum(path.stat().st_size for path in files) <= 3.5 * 10_000
    assert {str(path.relative_to(tmp_path)) for path in files} == {row.image_path for row in kept}
    assert max(row.frame for row in kept) == 11 and min(row.frame for row in kept) > 3  # the oldest went first
    image = cv2.imread(str(tmp_path / kept[0].image_path))
    assert image.shape == (96, 96, 3)
    assert tuple(image[2, 2]) != tuple(result(11, 0.9, size=96).frame.image[2, 2][::-1])  # the banner is drawn
