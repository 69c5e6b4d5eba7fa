"""The Export page's live-inspection panel against the loopback sshd standing in for a deployed Jetson: Start runs
live.py there (as a supervised process: that sshd has no systemd user session), the device's status is shown,
Stop ends it."""

from __future__ import annotations

import json
from pathlib import Path

from app.model_state import QtActiveModel
from app.pages.export_page import ExportPage
from app.settings import AppSettings
from tests.core.deploy.deploy_testkit import deploy_for_live, make_bundle, running_sshd, write_video


def test_start_status_and_stop_from_the_export_page(qtbot, settings: AppSettings, tmp_path: Path) -> None:
    page = ExportPage(settings, QtActiveModel())
    qtbot.addWidget(page, before_close_func=lambda widget: widget.shutdown())
    video = write_video(tmp_path / "line.avi", frames=20)
    root = tmp_path / "device"
    with running_sshd(tmp_path / "sshd") as sshd:
        deploy_for_live(sshd, make_bundle(tmp_path), root)
        form = page.form
        form.host.setText(sshd.host)
        form.port.setValue(sshd.port)
        form.user.setText(sshd.user)
        form.key.setText(str(sshd.client_key))
        form.known_hosts.setText(str(sshd.known_hosts))
        form.remote_dir.setText(str(root))
        panel = page.device_live
        panel.source.setText(f"file://{video}")
        panel.headless.setChecked(True)
        try:
            with qtbot.waitSignal(panel.status_shown, timeout=30_000) as shown:
                assert panel.start()
            assert shown.args[0].manager == "process"
            assert "running as a supervised process" in panel.status.text()
            status = root / "live" / "status.json"
            qtbot.waitUntil(lambda: status.exists() and json.loads(status.read_text()).get("frames", 0) > 0,
                            timeout=30_000)
            qtbot.waitUntil(lambda: not panel.busy, timeout=5_000)
            with qtbot.waitSignal(panel.status_shown, timeout=30_000):
                assert panel.refresh()
            assert "FPS " in panel.status.text() and "last verdict" in panel.status.text()
            qtbot.waitUntil(lambda: not panel.busy, timeout=5_000)
            with qtbot.waitSignal(panel.status_shown, timeout=30_000) as shown:
                assert panel.stop()
            assert not shown.args[0].running and "live inspection: not running" in panel.status.text()
            assert settings.value("device/live_source", "") == f"file://{video}"
        finally:
            qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
            if (root / "live" / "supervisor.pid").exists():
                panel.stop()
                qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
