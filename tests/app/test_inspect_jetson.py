"""The Inspect page watching a Jetson: `jetson://` frames from live.py running behind the loopback sshd, shown with
the same readouts as local inspection and labelled as the device's; no model is needed on the station."""

from __future__ import annotations

from pathlib import Path

from app.pages.inspect_page import InspectPage
from app.settings import AppSettings
from app.widgets.source_picker import JETSON
from tests.core.deploy.deploy_testkit import live_device, make_bundle, running_sshd, write_video


def test_the_page_shows_the_devices_results(qtbot, settings: AppSettings, tmp_path: Path) -> None:
    page = InspectPage(settings)
    qtbot.addWidget(page)
    bundle = make_bundle(tmp_path)
    video = write_video(tmp_path / "line.avi", frames=20)
    with running_sshd(tmp_path / "sshd") as sshd, live_device(sshd, bundle, tmp_path / "device", f"file://{video}"):
        page.source_picker.set_uri(f"jetson://{sshd.user}@{sshd.host}:{sshd.port}{tmp_path / 'device'}"
                                   f"?key={sshd.client_key}&known_hosts={sshd.known_hosts}")
        assert page.source_picker.current_kind() == JETSON
        assert page.start()  # without a model: the device has its own
        qtbot.waitUntil(lambda: page.last_result is not None and page.readouts.values()["runtime"].startswith(
            "device: ONNX Runtime"), timeout=30_000)
        values = page.readouts.values()
        assert values["process memory (RSS)"].startswith("device: ") and "(live.py)" in values["process memory (RSS)"]
        assert values["frames per second"].endswith("on the device")
        assert "inspected on the device" in values["source"] and values["inference"].endswith(" ms")
        assert page.model_label.text().startswith("Model: on the device (")
        shown = page.last_result
        assert shown.frame.image.shape == (270, 480, 3) and shown.threshold == 0.5
        assert page.verdict.verdict.text() == shown.verdict and "threshold 0.5" in page.verdict.score.text()
        page.stop(wait=True)
