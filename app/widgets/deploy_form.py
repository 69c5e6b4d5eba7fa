"""Where and how to deploy: host, port, user, key, known_hosts, remote directory, build on or off, and the
precision a model folder is exported at. Remembered between runs; there is no password field (key
authentication only, and a key's passphrase is asked for when needed and never stored)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton,
                               QSpinBox, QWidget)

from app.settings import AppSettings
from core.deploy.connection import SshTarget
from core.deploy.push import DeployOptions
from core.errors import InputError

PRECISIONS = (("int8", "INT8 (PTQ, random-normal calibration)"), ("fp16", "FP16"), ("fp32", "FP32"))
DEFAULT_REMOTE_DIR = DeployOptions().remote_dir
_TEXT_FIELDS = ("host", "user", "key", "known_hosts", "remote_dir")


def _path_row(edit: QLineEdit, title: str, parent: QWidget) -> QHBoxLayout:
    browse = QPushButton("Browse…")
    browse.clicked.connect(lambda: _browse(edit, title, parent))
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(browse)
    return row


def _browse(edit: QLineEdit, title: str, parent: QWidget) -> None:
    start = str(Path(edit.text()).expanduser().parent if edit.text() else Path("~/.ssh").expanduser())
    path, _ = QFileDialog.getOpenFileName(parent, title, start)
    if path:
        edit.setText(path)


class QtDeployForm(QWidget):
    """`target()` and `options(log_dir)` build the engine's `SshTarget` and `DeployOptions` from the fields.

    Example:
        >>> form = QtDeployForm(); form.restore(settings)
        >>> deploy(bundle, form.target(), token, form.options(log_dir))
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = QLineEdit()
        self.host.setPlaceholderText("jetson.local or 192.168.1.20")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(22)
        self.user = QLineEdit()
        self.user.setPlaceholderText("login on the Jetson, e.g. nvidia")
        self.key = QLineEdit()
        self.key.setPlaceholderText("default: the SSH agent and ~/.ssh/id_*")
        self.known_hosts = QLineEdit()
        self.known_hosts.setPlaceholderText("default: ~/.ssh/known_hosts")
        self.remote_dir = QLineEdit(DEFAULT_REMOTE_DIR)
        self.build = QCheckBox("Build the TensorRT engine on the device (trtexec) before switching to it")
        self.build.setChecked(True)
        self.precision = QComboBox()
        for name, title in PRECISIONS:
            self.precision.addItem(title, name)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("User", self.user)
        form.addRow("Private key", _path_row(self.key, "Private key", self))
        form.addRow("Known hosts", _path_row(self.known_hosts, "known_hosts file", self))
        form.addRow("Remote directory", self.remote_dir)
        form.addRow("Precision", self.precision)
        form.addRow("", self.build)

    def target(self, connect_timeout: float = 15.0) -> SshTarget:
        """The device to deploy to; `InputError` naming the empty field when host or user is missing."""
        host, user = self.host.text().strip(), self.user.text().strip()
        if not host or not user:
            raise InputError(f"{'Host' if not host else 'User'}: fill it in (the Jetson's address and login)")
        return SshTarget(host, user, self.port.value(), self._path(self.key), self._path(self.known_hosts),
                         connect_timeout=connect_timeout)

    def options(self, log_dir: Path | None) -> DeployOptions:
        return DeployOptions(remote_dir=self.remote_dir.text().strip() or DEFAULT_REMOTE_DIR,
                             build=self.build.isChecked(), log_dir=log_dir)

    def chosen_precision(self) -> str:
        return str(self.precision.currentData())

    def save(self, settings: AppSettings) -> None:
        for name in _TEXT_FIELDS:
            settings.set_value(f"deploy/{name}", getattr(self, name).text().strip())
        settings.set_value("deploy/port", self.port.value())
        settings.set_value("deploy/build", int(self.build.isChecked()))
        settings.set_value("deploy/precision", self.chosen_precision())

    def restore(self, settings: AppSettings) -> None:
        for name in _TEXT_FIELDS:
            value = settings.value(f"deploy/{name}", "")
            if value:
                getattr(self, name).setText(value)
        self.port.setValue(int(settings.number("deploy/port", 22)))
        self.build.setChecked(bool(settings.number("deploy/build", 1)))
        index = self.precision.findData(settings.value("deploy/precision", "int8"))
        self.precision.setCurrentIndex(max(index, 0))

    @staticmethod
    def _path(edit: QLineEdit) -> Path | None:
        text = edit.text().strip()
        return Path(text).expanduser() if text else None
