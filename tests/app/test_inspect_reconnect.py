"""The Inspect page with a network camera that drops and comes back (a real MJPEG-over-HTTP server on 127.0.0.1):
the window says it is reconnecting and which attempt it is on, the counters carry on, and a camera that never
opens is retried visibly until Stop, which ends it at once."""

from __future__ import annotations

import time
from pathlib import Path

from app_testkit import inspected, write_video

from app.main_window import MainWindow
from app.widgets.source_picker import CAMERA, VIDEO
from tests.core.faults.stream_testkit import MjpegCamera, closed_port


def test_a_dropped_stream_is_reconnected_and_the_window_says_so(qtbot, window: MainWindow) -> None:
    page = window.inspect_page
    with MjpegCamera() as camera:
        page.source_picker.set_source(CAMERA, camera.url)
        assert page.start()
        qtbot.waitUntil(lambda: inspected(window) >= 5, timeout=30_000)
        camera.stop()
        saying = f"reconnecting to stream {camera.url} (attempt 2)"
        qtbot.waitUntil(lambda: saying in page.source_state.text(), timeout=20_000)
        assert page.banner.kind == "warning" and "reconnecting to stream" in page.banner.text()
        assert page.running and page.start_button.text().startswith("Stop")
        before = inspected(window)
        assert before >= 5  # nothing was reset by the drop

        camera.start()
        qtbot.waitUntil(lambda: inspected(window) >= before + 5, timeout=30_000)
        assert page.banner.text() == ""  # the warning goes once frames come again
        assert "receiving frames again" in page.source_state.text() or page.source_state.text().startswith("saved")
        page.stop()


def test_a_camera_that_never_opens_is_retried_visibly_until_stop(qtbot, window: MainWindow) -> None:
    page = window.inspect_page
    page.source_picker.set_source(CAMERA, f"rtsp://127.0.0.1:{closed_port()}/line")
    assert page.start()
    qtbot.waitUntil(lambda: "retrying (attempt 3) in 1 s" in page.source_state.text(), timeout=20_000)
    assert "refused: nothing listens there" in page.banner.text() and page.running
    worker = page.worker
    started = time.perf_counter()
    page.stop()
    assert time.perf_counter() - started < 1.0 and not page.running
    assert page.source_state.text() == "Stopped" and page.start_button.text().startswith("Start")
    qtbot.waitUntil(lambda: worker not in page._retiring, timeout=5_000)  # its thread really ended


def test_stopping_a_worker_whose_thread_just_ended_still_lets_it_go(qtbot, window: MainWindow,
                                                                    tmp_path: Path) -> None:
    page = window.inspect_page
    page.source_picker.set_source(VIDEO, str(write_video(tmp_path / "one.avi", frames=1)))
    assert page.start()
    worker = page.worker
    deadline = time.monotonic() + 30
    while not worker.isFinished():  # no Qt events meanwhile: its `finished` is emitted but not yet delivered
        assert time.monotonic() < deadline
        time.sleep(0.01)
    page.stop()  # the operator pressed Stop in that moment
    qtbot.waitUntil(lambda: not page._retiring, timeout=5_000)  # not kept for ever
