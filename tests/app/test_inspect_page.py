"""The Inspect page driven through its widgets: demo start-up, a video file, a watched folder, dropped images,
broken sources and models, kiosk mode and shortcuts."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from app_testkit import inspected, striped, write_video
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.main_window import MainWindow
from app.settings import AppSettings
from app.widgets.source_picker import CAMERA, FOLDER, IMAGES, VIDEO


def test_start_up_inspects_the_demo_images_at_once(qtbot, settings: AppSettings, tiny_model: Path) -> None:
    started = time.perf_counter()
    main = MainWindow(settings, model_dir=tiny_model, autostart=True)
    qtbot.addWidget(main, before_close_func=lambda widget: widget.shutdown())
    main.show()
    page = main.inspect_page
    qtbot.waitUntil(lambda: inspected(main) >= 2, timeout=60_000)  # the demo set is generated on a first run
    assert page.source_picker.current_kind() == "demo" and page.running
    assert page.verdict.verdict.text() in ("OK", "NG")
    assert page.live_view.frame_item.image.shape == (256, 256, 3)  # demo images are 256 px
    assert page.live_view.heat_item.image.shape == (64, 64)  # the model's map, stretched over the frame
    readouts = page.readouts.values()
    assert readouts["runtime"] == "onnxruntime" and readouts["model size on disk"].endswith("MB")
    assert readouts["INT8 path"].startswith(("x86", "arm64"))  # which integer kernels an INT8 model gets here
    assert readouts["inference"].endswith(" ms") and readouts["process memory (RSS)"].endswith(" MB")
    assert settings.value("model/last") == str(tiny_model)
    print(f"first frames after {time.perf_counter() - started:.1f} s")


def test_a_video_file_is_inspected_with_overlay_verdict_and_readouts(qtbot, window: MainWindow,
                                                                     tmp_path: Path) -> None:
    page = window.inspect_page
    video = write_video(tmp_path / "line.avi", frames=30, fps=30.0)
    page.source_picker.set_source(VIDEO, f"file://{video}")
    page.verdict.threshold.set_value(0.0)  # every frame NG: thumbnails and counters must follow
    assert page.start()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)  # ends by itself at the end of the video
    values = page.readouts.values()
    source_dropped = int(values["dropped frames"].split()[0])
    assert inspected(window) + source_dropped == 30 and inspected(window) >= 10
    assert page.verdict.verdict.text() == "NG" and page.verdict.ng_rate.text() == "100.0 %"
    assert len(page.ng_strip.thumbnails) == 8  # the strip keeps the last eight
    assert page.live_view.frame_item.image.shape == (80, 96, 3)
    heat = page.live_view.heat_item.image
    assert heat.dtype == np.uint8 and heat.shape == (64, 64) and page.live_view.heat_item.isVisible()
    assert float(values["inference"].split()[0]) > 0 and float(values["frames per second"]) > 0
    assert len(page.readouts.plot._history) == inspected(window)
    assert "end of video" in page.source_state.text()
    saved = page.save_current()
    assert saved is not None and saved.is_file() and saved.parent == tmp_path / "saved"


def test_a_watched_folder_inspects_files_as_they_arrive(qtbot, window: MainWindow, tmp_path: Path) -> None:
    page = window.inspect_page
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    page.source_picker.set_source(FOLDER, str(incoming))
    assert page.start()
    rng = np.random.default_rng(1)
    for index in range(3):
        Image.fromarray(striped(rng, size=128)).save(tmp_path / "tmp.png")
        shutil.move(tmp_path / "tmp.png", incoming / f"part{index}.png")
        qtbot.waitUntil(lambda index=index: inspected(window) == index + 1, timeout=10_000)
    assert page.last_result.frame.name == "part2.png" and page.running
    qtbot.keyClick(window, Qt.Key.Key_Space)  # start/stop shortcut
    assert not page.running


def _drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_dropped_images_are_inspected_one_step_at_a_time(qtbot, window: MainWindow, tmp_path: Path) -> None:
    page = window.inspect_page
    rng = np.random.default_rng(2)
    paths = []
    for index, spot in enumerate((False, True, False)):
        paths.append(tmp_path / f"dropped{index}.png")
        Image.fromarray(striped(rng, spot=spot)).save(paths[-1])
    _drop(page, paths)
    assert page.source_picker.current_kind() == IMAGES
    qtbot.waitUntil(lambda: inspected(window) == 1, timeout=10_000)
    qtbot.wait(300)
    assert inspected(window) == 1  # waits for "next image"
    qtbot.keyClick(window, Qt.Key.Key_N)
    qtbot.waitUntil(lambda: inspected(window) == 2, timeout=10_000)
    assert page.last_result.frame.name == "dropped1.png"
    more = tmp_path / "late.png"
    Image.fromarray(striped(rng)).save(more)
    _drop(page, [more])  # dropped while running: shown next, without restarting
    qtbot.waitUntil(lambda: inspected(window) == 3, timeout=10_000)
    assert page.last_result.frame.name == "late.png"
    assert page.verdict.verdict.text() in ("OK", "NG") and page.verdict.category.text()
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert len(list((tmp_path / "saved").glob("*.png"))) == 1


def test_broken_sources_are_reported_in_the_window(qtbot, window: MainWindow, tmp_path: Path) -> None:
    page = window.inspect_page
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    page.source_picker.set_source(VIDEO, str(fake))
    assert not page.start()
    assert "clip.mp4" in page.banner.text() and page.banner.kind == "error"

    page.source_picker.set_source(FOLDER, str(tmp_path / "missing"))
    assert not page.start() and "missing: folder does not exist" in page.banner.text()

    page.source_picker.set_source(CAMERA, "v4l2:///dev/video63")
    assert page.start()
    qtbot.waitUntil(lambda: "retrying (attempt 3) in 1 s" in page.banner.text(), timeout=10_000)
    assert "cannot be opened" in page.source_state.text() and page.running
    started = time.perf_counter()
    page.stop()
    assert time.perf_counter() - started < 1.0


def test_a_model_that_fails_verification_keeps_the_previous_one(qtbot, window: MainWindow, tiny_model: Path,
                                                                tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "weights.safetensors").write_bytes(b"tampered")
    before = window.inspect_page.runtime
    window.open_model(broken)
    qtbot.waitUntil(lambda: "model not loaded" in window.inspect_page.banner.text(), timeout=10_000)
    assert "weights.safetensors" in window.inspect_page.banner.text()
    assert window.inspect_page.runtime is before and window.model.runtime is before


def test_kiosk_mode_and_overlay_controls(qtbot, window: MainWindow) -> None:
    page = window.inspect_page
    qtbot.keyClick(window, Qt.Key.Key_F11)
    assert window.kiosk and window.isFullScreen()
    assert not page.controls.isVisible() and not page.side_panel.isVisible() and not window.menuBar().isVisible()
    assert page.live_view.isVisible() and page.verdict.isVisible() and page.ng_strip.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.kiosk and page.controls.isVisible()

    page.overlay_controls.opacity.setValue(80)
    assert page.live_view._lut[255, 3] == 204  # alpha at the top of the scale follows the opacity
    page.overlay_controls.colour_map.setCurrentText("viridis")
    assert window.settings.value("inspect/colour_map") == "viridis"
    page.verdict.threshold.slider.setValue(500)
    assert page.live_settings.threshold == pytest.approx(page.verdict.threshold.spin.value())
