"""The drift readout on the Inspect page: PSI per statistic coloured by level, and the alarm banner, from a state
and from a real run (a model with enough normal images for a reference, and a video nothing like them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_testkit import make_category

from app.main_window import MainWindow
from app.settings import AppSettings
from app.widgets.drift_readout import QtDriftReadout
from app.widgets.source_picker import VIDEO
from core.drift.monitor import DriftState
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job
from tests.core.sources.sources_testkit import write_video


def _state(brightness: float, level: str) -> DriftState:
    return DriftState({"brightness": brightness, "contrast": 0.02, "sharpness": 0.12, "score": None},
                      {"brightness": level, "contrast": "ok", "sharpness": "warn", "score": "ok"}, 200, 640,
                      {"brightness": 9.5, "contrast": -0.2, "sharpness": 31.0})


def test_the_readout_colours_each_statistic_and_raises_the_banner_on_alarm(qtbot) -> None:
    readout = QtDriftReadout()
    qtbot.addWidget(readout)
    readout.show()
    readout.show_state(_state(0.41, "alarm"))
    assert readout.values["brightness"].text() == "PSI 0.41  alarm   (median +9.5)" and "#b3261e" in readout.values[
        "brightness"].styleSheet()
    assert "#b06000" in readout.values["sharpness"].styleSheet() and readout.values["score"].text().startswith("n/a")
    assert readout.alarm.isVisibleTo(readout) and "brightness" in readout.alarm.text()
    assert "lighting" in readout.alarm.text() and "sharpness" not in readout.alarm.text()  # warn is not alarm
    readout.show_state(_state(0.05, "ok"))
    assert not readout.alarm.isVisibleTo(readout) and "#1b7f3b" in readout.values["brightness"].styleSheet()
    readout.show_note("drift off: the training images of m cannot be read", on=False)
    assert readout.values["brightness"].text() == "—" and "drift off" in readout.status.text()


@pytest.fixture(scope="module")
def referenced_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PatchCore at 64 px, random weights, 30 normal images: enough for the image statistics' reference."""
    root = tmp_path_factory.mktemp("drift-app-model")
    category = make_category(root / "data", "stripes", train=30)
    return run_to_end(train_job(ModelConfig(method="patchcore", image_size=64), [category], root / "model",
                                weights="random")).model_dir


def test_a_video_unlike_the_training_images_raises_the_alarm_on_the_page(
    qtbot, settings: AppSettings, referenced_model: Path, tmp_path: Path
) -> None:
    main = MainWindow(settings, model_dir=referenced_model, autostart=False)
    qtbot.addWidget(main, before_close_func=lambda widget: widget.shutdown())
    main.show()
    page = main.inspect_page
    qtbot.waitUntil(lambda: "drift reference: 30 normal images" in page.drift_readout.status.text(),
                    timeout=30_000)
    page.drift_watch.window = 20  # judged from 20 frames on, every 2
    video = write_video(tmp_path / "grey.avi", frames=40)  # flat grey frames: no stripes, no edges
    page.source_picker.set_source(VIDEO, f"file://{video}")
    assert page.start()
    qtbot.waitUntil(lambda: not page.running, timeout=30_000)
    state = page.drift_readout.state
    assert state is not None and state.levels["sharpness"] == "alarm", page.drift_readout.status.text()
    assert page.drift_readout.alarm.isVisible() and "sharpness" in page.drift_readout.alarm.text()
    main.set_kiosk(True)
    assert page.drift_readout.alarm.isVisible()  # the operator still sees it
