"""Live inspection on the deployed Jetson, from the Export page: source, Start / Stop / Refresh, and the device's
status (release, how it runs, FPS, latency split, memory, last verdict, why it failed) as `device status` prints it.

Each action is `core.deploy.live_service.live_job` on a `QtJobWorker` (one SSH connection per action), so the
window never waits on the network. The device comes from the page's deployment form (`target_of()` / `remote_dir_of()`
callables, read when the button is pressed).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.qt_worker import QtJobWorker
from app.settings import AppSettings
from core.deploy.connection import SshTarget
from core.deploy.live_service import LiveOptions, LiveStatus, describe, live_job
from core.errors import InputError

DEFAULT_SOURCE = "csi://0"


class QtDeviceLive(QWidget):
    """Start / Stop live inspection on the device and show its status.

    Example:
        >>> panel = QtDeviceLive(form.target, lambda: form.remote_dir.text(), settings)
        >>> panel.source.setText("v4l2:///dev/video0"); panel.start()
    """

    status_shown = Signal(object)  # the LiveStatus just shown (tests wait on it)

    def __init__(self, target_of: Callable[[], SshTarget], remote_dir_of: Callable[[], str],
                 settings: AppSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.target_of, self.remote_dir_of, self.settings = target_of, remote_dir_of, settings
        self.worker: QtJobWorker | None = None
        self.last_status: LiveStatus | None = None
        self.source = QLineEdit(settings.value("device/live_source", DEFAULT_SOURCE) if settings else DEFAULT_SOURCE)
        self.source.setPlaceholderText("csi://0 · v4l2:///dev/video0 · rtsp://... · file://video.mp4 on the device")
        self.headless = QCheckBox("no window on the device's display")
        self.start_button = QPushButton("Start on device")
        self.stop_button = QPushButton("Stop")
        self.refresh_button = QPushButton("Refresh")
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.refresh_button.clicked.connect(self.refresh)
        self.status = QLabel("Device status: not read yet (Refresh)")
        self.status.setWordWrap(True)
        self.status.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Source"))
        source_row.addWidget(self.source, 1)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(source_row)
        layout.addWidget(self.headless)
        layout.addLayout(buttons)
        layout.addWidget(self.status)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self) -> bool:
        source = self.source.text().strip()
        if not source:
            self._show_text("Source: name what the device inspects, e.g. csi://0")
            return False
        if self.settings is not None:
            self.settings.set_value("device/live_source", source)
        return self._run("start", LiveOptions(source=source, headless=self.headless.isChecked()))

    def stop(self) -> bool:
        return self._run("stop")

    def refresh(self) -> bool:
        return self._run("status")

    def _run(self, action: str, options: LiveOptions | None = None) -> bool:
        if self.busy:
            return False
        try:
            target, remote_dir = self.target_of(), self.remote_dir_of()
        except InputError as error:
            self._show_text(str(error))
            return False
        self.worker = worker = QtJobWorker(lambda token: live_job(target, remote_dir, action, options), self)
        worker.progressed.connect(lambda progress: self._show_text(progress.message))
        worker.succeeded.connect(self._show_status)
        worker.failed.connect(self._show_text)
        worker.finished.connect(self._finished)
        self._set_buttons(False)
        worker.start()
        return True

    def _show_status(self, found: LiveStatus) -> None:
        self.last_status = found
        self.status.setText(describe(found))
        self.status_shown.emit(found)

    def _show_text(self, text: str) -> None:
        self.status.setText(text)

    def _finished(self) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.deleteLater()
        self._set_buttons(True)

    def _set_buttons(self, enabled: bool) -> None:
        for button in (self.start_button, self.stop_button, self.refresh_button):
            button.setEnabled(enabled)

    def wait(self) -> None:
        """Let a running action finish (the window is closing)."""
        if self.worker is not None:
            self.worker.wait(30_000)
