"""Mark as good on the History page teaches the model the recorded frame: off the UI thread, as version 2, and the
live runtime reloads it at once; the versions box lists it and rolls back. A real tiny PatchCore (64 px, random
weights) on ONNX Runtime, a real audit database, real Qt."""

from __future__ import annotations

import shutil
from pathlib import Path

from app_testkit import write_video

from app.main_window import MainWindow
from app.pages.history_page import HistoryPage
from app.settings import AppSettings
from app.widgets.source_picker import VIDEO
from core.audit.frames import raw_frame_path
from core.audit.records import MARKED_GOOD
from core.audit.store import AuditStore
from core.model_manifest import WEIGHTS, read_manifest
from core.model_versions import read_log


def test_mark_as_good_on_the_history_page_teaches_a_new_version_the_live_runtime_loads(
        qtbot, settings: AppSettings, tiny_model: Path, tmp_path: Path, audit_db: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)  # the session's model stays as it is for the other tests
    window = MainWindow(settings, model_dir=model, autostart=False)
    qtbot.addWidget(window, before_close_func=lambda widget: widget.shutdown())
    window.show()
    qtbot.waitUntil(lambda: window.inspect_page.runtime is not None, timeout=30_000)
    page = window.inspect_page
    page.source_picker.set_source(VIDEO, f"file://{write_video(tmp_path / 'line.avi', frames=3)}")
    page.verdict.threshold.set_value(0.0)  # every frame NG: each is kept, with what the model saw
    assert page.start()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)
    assert page.recorder is not None and page.recorder.flush()
    first_weights = read_manifest(model).files[WEIGHTS]

    window.pages.show_tab("History")
    history = window.pages.page("History")
    assert isinstance(history, HistoryPage)
    qtbot.waitUntil(lambda: history.table_model.rowCount() == 3, timeout=10_000)
    row = next(index for index in range(3) if history.table_model.verdict(index).frame == 1)  # no painted spot
    assert raw_frame_path(audit_db, history.table_model.verdict(row).image_path).is_file()
    history.table.selectRow(row)
    marked = history.table_model.verdict(row).id
    old_runtime = window.model.runtime
    with qtbot.waitSignal(window.model.changed, timeout=60_000):  # taught, checked, committed, reloaded
        history.mark_good.click()
    assert "Version 2" in history.banner.text() and "is live" in history.banner.text()
    assert read_log(model).current == 2
    assert window.model.runtime is not old_runtime and page.runtime is window.model.runtime
    assert window.model.runtime.manifest.files == read_manifest(model).files  # the new version's files
    with AuditStore(audit_db) as store:
        assert {verdict.id: verdict.operator_action for verdict in store.verdicts()}[marked] == MARKED_GOOD
    assert history.versions.list.count() == 2

    history.versions.list.setCurrentRow(1)  # version 1, listed under the newest
    # the teach's worker winds down after the reload: until then a rollback is refused as "still running"
    qtbot.waitUntil(lambda: history.versions.runner.worker is None, timeout=10_000)
    with qtbot.waitSignal(window.model.changed, timeout=30_000):
        history.versions.rollback_button.click()
    assert read_log(model).current == 3 and read_manifest(model).files[WEIGHTS] == first_weights
    assert history.versions.list.count() == 3
