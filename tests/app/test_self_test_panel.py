"""The self-test on the Inspect page: the reminder at start when none ran or the last is older than the set time,
the button that runs it with the live model and records the run, and its result in the banner."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app.main_window import MainWindow
from app.widgets.self_test_panel import QtSelfTestPanel
from core.audit.location import parts_folder
from core.audit.records import NG, OK, ModelIdentity, PartResult, SelfTestRun, utc_text
from core.audit.self_test import add_parts
from core.audit.store import AuditStore


def test_the_window_reminds_and_the_button_runs_the_self_test(qtbot, window: MainWindow, tiny_model: Path,
                                                              audit_db: Path) -> None:
    page, panel = window.inspect_page, window.inspect_page.self_test
    assert panel.due and panel.status.text() == "Self-test due: none run yet"
    assert "run the start-of-shift self-test" in page.banner.text()  # the reminder at start

    category = tiny_model.parent / "data" / "stripes"
    # registered from the window (the Parts menu's dialogs end here)
    assert panel.register_parts(sorted((category / "train" / "good").glob("*.png"))[:1], OK)
    assert "the self-test now runs 1" in page.banner.text()
    add_parts(parts_folder(audit_db), sorted((category / "test" / "spot").glob("*.png"))[:1], NG, ["stripes"])
    assert panel.register_parts([tiny_model / "manifest.json"], NG) == []
    assert "No part added" in page.banner.text() and "manifest.json" in page.banner.text()
    with qtbot.waitSignal(panel.run_finished, timeout=30_000) as finished:
        panel.button.click()
    run = finished.args[0]
    assert len(run.parts) == 2 and {part.expected for part in run.parts} == {OK, NG}
    qtbot.waitUntil(lambda: panel.worker is None, timeout=10_000)
    expected = "Self-test passed: 2 parts" if run.passed else "Self-test FAILED"
    assert page.banner.text().startswith(expected)
    assert panel.status.text().startswith("Self-test passed 0.0 h ago" if run.passed else "Self-test FAILED 0.0 h")
    with AuditStore(audit_db) as store:
        assert store.last_self_test()[1] == run.passed



def test_the_reminder_follows_the_age_and_result_of_the_last_self_test(qtbot, tmp_path: Path) -> None:
    db = tmp_path / "station.sqlite"
    panel = QtSelfTestPanel(db, max_age_hours=8.0)
    qtbot.addWidget(panel)
    model = ModelIdentity("ab" * 32, "fp32", "/models/line")
    part = PartResult("stripes/good/000.png", "stripes", OK, OK, 0.1, 0.5)
    now = datetime.now(timezone.utc)
    for hours_ago, parts, expected, due in (
            (9, (part,), "Self-test due: last passed 9.0 h ago", True),
            (2, (part,), "Self-test passed 2.0 h ago", False),
            (1, (replace(part, verdict=NG),), "Self-test FAILED 1.0 h ago", True)):
        with AuditStore(db) as store:
            store.add_self_test(SelfTestRun(utc_text(now - timedelta(hours=hours_ago)), model, parts))
        panel.refresh()
        assert (panel.status.text(), panel.due) == (expected, due)
