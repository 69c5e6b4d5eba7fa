"""`kill -9` of a real process that is writing verdicts: every batch it committed is there when the database is
reopened, the file passes SQLite's integrity check, its NG frames are whole, and the next writer carries on."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
from audit_testkit import CONTEXT, result, row_count

from core.audit.recorder import AuditRecorder
from core.audit.store import AuditStore

REPO = Path(__file__).resolve().parents[3]
# Records without end, 20 rows per transaction, a third of them NG with their JPEG: always in the middle of a write.
WRITER = """
import sys
from audit_testkit import CONTEXT, result
from core.audit.recorder import AuditRecorder
recorder = AuditRecorder(sys.argv[1], batch_rows=20, batch_seconds=0.05)
index = 0
while True:
    index += 1
    recorder.record(result(index, 0.9 if index % 3 == 0 else 0.1), CONTEXT)
    if index % 20 == 0:
        recorder.flush()
"""


def test_a_writer_killed_mid_write_loses_no_committed_verdict(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(Path(__file__).parent)])}
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while (not db.exists() or row_count(db) < 200) and time.monotonic() < deadline:
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            time.sleep(0.05)
        seen = row_count(db)
        assert seen >= 200
        assert Path(f"{db}-wal").stat().st_size > 0  # the commits are in the write-ahead log, not yet in the file
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert row_count(db) >= seen
    with AuditStore(db) as store:
        rows = store.verdicts()
    assert [row.frame for row in reversed(rows)] == list(range(1, len(rows) + 1))  # no hole: whole batches only
    images = [tmp_path / row.image_path for row in rows if row.image_path]
    assert len(images) >= len(rows) // 3 - 1 and all(cv2.imread(str(path)) is not None for path in images)

    recorder = AuditRecorder(db)  # the next run writes on where the killed one stopped
    recorder.record(result(10**6, 0.1), CONTEXT)
    recorder.close()
    assert row_count(db) == len(rows) + 1
