"""The window records every verdict it gives, and the History page shows them: filters by time, verdict,
category and model, the overlay of a selected NG frame, the operator's word on it, and CSV export. A real audit
database (in the test's folder), a real tiny model on ONNX Runtime, real Qt."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

from app_testkit import inspected, write_video

from app.main_window import MainWindow
from app.pages.history_page import HistoryPage
from app.widgets.source_picker import VIDEO
from core.audit.records import MARKED_GOOD, ModelIdentity, Verdict, utc_text
from core.audit.store import AuditStore

OLD_MODEL = ModelIdentity("ef" * 32, "int8", "/models/old-line")


def test_live_verdicts_are_recorded_and_the_history_page_filters_previews_marks_and_exports(
        qtbot, window: MainWindow, tmp_path: Path, audit_db: Path) -> None:
    page = window.inspect_page
    page.source_picker.set_source(VIDEO, f"file://{write_video(tmp_path / 'line.avi', frames=8)}")
    page.verdict.threshold.set_value(0.0)  # every frame NG: each one is kept with its overlay
    assert page.start()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)
    live = inspected(window)
    assert live >= 3 and page.recorder is not None and page.recorder.flush()
    two_days_ago = utc_text(datetime.now(timezone.utc) - timedelta(days=2))
    with AuditStore(audit_db) as store:  # an older shift on another model
        store.add([Verdict(two_days_ago, "csi://0", index, f"csi #{index}", "stripes", 0.1, 0.5, "OK", OLD_MODEL)
                   for index in (1, 2)])

    window.pages.show_tab("History")
    history = window.pages.page("History")
    assert isinstance(history, HistoryPage)
    qtbot.waitUntil(lambda: history.table_model.rowCount() == live, timeout=10_000)  # last 24 hours by default
    shown = history.table_model.verdict(0)
    assert shown.verdict == "NG" and shown.source == f"file://{tmp_path / 'line.avi'}" and shown.image_path
    assert shown.model.precision == "fp32" and shown.model.path == str(page.runtime.model_dir.absolute())
    assert f"{live} verdicts: 0 OK, {live} NG" in history.summary.text()

    history.period.setCurrentText("All time")
    history.refresh()
    assert history.table_model.rowCount() == live + 2
    history.verdict.setCurrentText("OK")
    history.refresh()
    assert [history.table_model.verdict(row).source for row in range(2)] == ["csi://0"] * 2
    history.verdict.setCurrentText("All")
    history.model_choice.setCurrentIndex(history.model_choice.findData(OLD_MODEL.sha256))
    history.category.setCurrentIndex(history.category.findData("stripes"))
    history.refresh()
    assert history.table_model.rowCount() == 2 and "int8" in history.model_choice.currentText().lower()
    history.model_choice.setCurrentIndex(0)
    history.category.setCurrentIndex(0)
    history.refresh()

    history.table.selectRow(0)  # the newest: an NG frame from the video, its overlay on disk
    assert history.preview.pixmap() is not None and not history.preview.pixmap().isNull()
    assert "NG  score" in history.preview_caption.text()
    history.mark_good.click()
    with AuditStore(audit_db) as store:
        assert store.verdicts(limit=1)[0].operator_action == MARKED_GOOD
    assert history.table_model.data(history.table_model.index(0, 8)) == "marked good"

    written = history.export_csv(tmp_path / "history.csv")
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert written == len(rows) == live + 2 and "wrote" in history.banner.text()
    assert sum(1 for row in rows if row["image"] and Path(row["image"]).is_file()) == live
    history.grab().save(str(tmp_path / "history.png"))
