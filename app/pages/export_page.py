"""The Export page: push the active model to a Jetson over SSH, build its TensorRT engine there, and watch it
happen (upload bar, remote build log) — the window's face of `python -m core deploy`.

The active model is deployed as it is when it is a bundle (a variant made on the Quantize page, say); a model
folder is first exported to a TensorRT-ready bundle at the chosen precision (`core.deploy.source.resolve_bundle`,
kept for the session so that a retry does not export again). Both steps run on `QtJobWorker`s: the deployment
mostly waits on the network. Questions only the operator can answer stop the job and come back to the page as
values: an unknown host key (shown with its fingerprint; trusting it appends it to known_hosts, then the
deployment runs again) and an encrypted key (its passphrase is asked for, used for this deployment, never
stored). A changed host key is refused with the engine's message.
"""

from __future__ import annotations

import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QMessageBox,
                               QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from app.model_state import QtActiveModel
from app.qt_worker import QtJobWorker, call_job
from app.settings import AppSettings
from app.widgets.deploy_form import QtDeployForm
from app.widgets.device_live import QtDeviceLive
from app.widgets.error_banner import QtMessageBanner
from core.deploy.connection import SshTarget
from core.deploy.errors import KeyNeedsPassphrase, UnknownHostKey
from core.deploy.host_keys import trust_host_key
from core.deploy.push import DeployOptions, DeployResult, deploy
from core.deploy.source import resolve_bundle
from core.errors import InputError
from core.jobs import CancelToken, Progress
from core.model_manifest import MANIFEST, BundleManifest

PASSPHRASE_ATTEMPTS = 3


def answerable_deploy(bundle: Path, target: SshTarget, options: DeployOptions, passphrase: str | None,
                      token: CancelToken) -> Generator[Progress, None, DeployResult | InputError]:
    """`core.deploy.push.deploy`, except that the errors the operator can answer (an unknown host key, a key
    that needs its passphrase) are returned instead of raised, so that the page can ask and run it again."""
    try:
        return (yield from deploy(bundle, target, token, options, passphrase=passphrase))
    except (UnknownHostKey, KeyNeedsPassphrase) as question:
        return question


class ExportPage(QWidget):
    """Deployment fields, Deploy / Cancel, the upload bar, the log (the remote build's lines included).

    Example:
        >>> page = ExportPage(settings, window.model)     # follows the window's active model
        >>> page.form.host.setText("jetson.local"); page.form.user.setText("nvidia"); page.deploy()
    """

    title = "Export"
    busy_changed = Signal(bool)

    def __init__(self, settings: AppSettings, model: QtActiveModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.source: Path | None = None
        self.source_is_bundle = False
        self.worker: QtJobWorker | None = None
        self.last_result: DeployResult | None = None
        self._bundles: dict[tuple[Path, str, int], Path] = {}
        self._work: tempfile.TemporaryDirectory | None = None
        self._trusted = False
        self._passphrase_asks = 0
        self._next: Any = None  # what to do once the running worker has finished (a step, or a question)
        self._uploaded = False
        # What the running worker works on. Kept here, not in lambdas on the worker's signals: see `_run`.
        self._export_key: tuple[Path, str, int] | None = None
        self._bundle: Path | None = None
        self._build()
        self.form.restore(settings)
        model.changed.connect(self.use_runtime)
        if model.runtime is not None:
            self.use_runtime(model.runtime)
        self._update_buttons()

    def _build(self) -> None:
        self.banner = QtMessageBanner()
        self.model_label = QLabel("Model: none yet")
        self.model_label.setWordWrap(True)
        self.form = QtDeployForm()
        self.deploy_button = QPushButton("Deploy")
        self.deploy_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.deploy_button.clicked.connect(self.deploy)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.deploy_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        form_box = QGroupBox("Jetson")
        form_layout = QVBoxLayout(form_box)
        form_layout.addWidget(self.form)
        form_layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.stage_label = QLabel("Ready")
        self.stage_label.setWordWrap(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("The deployment's steps and the device's engine build log appear here.")
        self.target_note = QLabel()
        self.target_note.setWordWrap(True)
        self.target_note.setStyleSheet("color:#8a5a00;")
        self.target_note.hide()
        log_box = QGroupBox("Deployment and build log")
        QVBoxLayout(log_box).addWidget(self.log)
        self.device_live = QtDeviceLive(self.form.target, self._remote_dir, self.settings)
        live_box = QGroupBox("Live inspection on the device")
        QVBoxLayout(live_box).addWidget(self.device_live)
        left = QVBoxLayout()
        left.addWidget(form_box)
        left.addWidget(live_box)
        left.addWidget(self.progress)
        left.addWidget(self.stage_label)
        left.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 2)
        columns.addWidget(log_box, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.model_label)
        layout.addWidget(self.target_note)
        layout.addLayout(columns, 1)

    def _remote_dir(self) -> str:
        return self.form.options(None).remote_dir

    # -- the model ----------------------------------------------------------------------------------------------
    def use_runtime(self, runtime: Any) -> None:
        """Follow the active model: what Deploy sends."""
        self.source = Path(runtime.model_dir).absolute()
        manifest = runtime.manifest
        self.source_is_bundle = isinstance(manifest, BundleManifest)
        self.form.precision.setEnabled(not self.source_is_bundle)
        variant = dict(manifest.variant or {}) if isinstance(manifest, BundleManifest) else {}
        if self.source_is_bundle:
            name = variant.get("name") or manifest.precision.upper()
            how = f"a deployment bundle ({name}), sent as it is"
        else:
            how = "a model folder, exported to a TensorRT bundle at the precision below before it is sent"
        self.model_label.setText(f"Model: {self.source.name}  ·  {how}")
        # A CPU variant's INT8 graph (uint8 activations, zero points) is not what TensorRT builds.
        cpu_int8 = variant.get("target") == "cpu" and manifest.precision == "int8"
        self.target_note.setText("This INT8 variant was made for the CPU (ONNX Runtime's uint8 Q/DQ); TensorRT "
                                 "needs a TensorRT 8.5 or 10 variant: make one on the Quantize page (Target), "
                                 "make it live, then deploy.")
        self.target_note.setVisible(cpu_int8)
        self.model_label.setToolTip(str(self.source))
        self._update_buttons()

    # -- deploying ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def deploy(self) -> bool:
        """Start deploying the active model with the fields as they are; False (and why, in the banner) if not."""
        if self.busy or self.source is None:
            return False
        try:
            self.form.target()
        except InputError as error:
            self.banner.show_error(str(error))
            return False
        self.form.save(self.settings)
        self.banner.hide()
        self.log.clear()
        self.last_result = None
        self._trusted, self._passphrase_asks = False, 0
        self.progress.setFormat("%p %")
        if self.source_is_bundle:
            self._start_deploy(self.source)
        else:
            key = self._bundle_key(self.source, self.form.chosen_precision())
            bundle = self._bundles.get(key)
            if bundle is not None and bundle.is_dir():
                self._start_deploy(bundle)
            else:
                self._export(key)
        self.busy_changed.emit(True)
        return True

    @staticmethod
    def _bundle_key(model_dir: Path, precision: str) -> tuple[Path, str, int]:
        # The manifest's time stamp too: a model trained again into the same folder needs a new bundle.
        return model_dir, precision, (model_dir / MANIFEST).stat().st_mtime_ns

    def _export(self, key: tuple[Path, str, int]) -> None:
        model_dir, precision, _ = key
        if self._work is None:
            self._work = tempfile.TemporaryDirectory(prefix="inspection-station-deploy-")
        work = Path(self._work.name) / str(len(self._bundles))
        worker = QtJobWorker(call_job(lambda: resolve_bundle(model_dir, precision=precision, work_dir=work)), self)
        worker.succeeded.connect(self._exported)
        self._export_key = key
        self._run(worker, f"Exporting {model_dir.name} as a {precision.upper()} bundle for TensorRT…")

    def _exported(self, bundle: Path) -> None:
        key, bundle = self._export_key, Path(bundle)
        assert key is not None
        self._bundles[key] = bundle
        self._append("bundle", f"{bundle} ({key[1].upper()})")
        self._next = lambda: self._start_deploy(bundle)

    def _start_deploy(self, bundle: Path, passphrase: str | None = None) -> None:
        target = self.form.target()
        options = self.form.options(self.settings.models_folder.parent / "deploy-logs")
        worker = QtJobWorker(lambda token: answerable_deploy(bundle, target, options, passphrase, token), self)
        worker.progressed.connect(self._progressed)
        worker.succeeded.connect(self._answered)
        self._bundle = bundle
        self._uploaded = False
        self._run(worker, f"Deploying {bundle.name} to {target.label}…")

    def _run(self, worker: QtJobWorker, message: str) -> None:
        # Only bound methods of the page on the worker's signals (see `QtJobWorker`): a lambda there holding `self`
        # would be the page's last reference once the window lets go of it, and deleting the worker would then
        # delete the page, and with it the worker a second time (a crash).
        self.worker = worker
        self._next = None
        worker.failed.connect(self._failed)
        worker.cancelled.connect(self._cancelled)
        worker.finished.connect(self._finished)
        self.progress.setRange(0, 0)
        self.stage_label.setText(message)
        self._update_buttons()
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.stage_label.setText("Cancelling…")

    def _progressed(self, record: Progress) -> None:
        if record.stage == "upload":  # the bar counts bytes; it stays full once the upload is done
            self._uploaded = True
            self.progress.setRange(0, max(record.total, 1))
            self.progress.setValue(record.step)
            self.progress.setFormat(f"%p %  ·  {record.step / 1e6:.2f} of {record.total / 1e6:.2f} MB sent")
            self.stage_label.setText(f"upload: {record.message}")
            if not record.message.startswith("uploading "):  # one line per file, not one per chunk
                self._append(record.stage, record.message)
            return
        self.stage_label.setText(f"{record.stage}: {record.message}")
        self._append(record.stage, record.message)

    def _answered(self, outcome: DeployResult | InputError) -> None:
        """The job's end: a result, or a question for the operator (asked once the worker has finished)."""
        bundle = self._bundle
        assert bundle is not None
        if isinstance(outcome, DeployResult):
            self._deployed(outcome)
        elif isinstance(outcome, UnknownHostKey):
            self._next = lambda: self._ask_trust(bundle, outcome)
        elif isinstance(outcome, KeyNeedsPassphrase):
            self._next = lambda: self._ask_passphrase(bundle, outcome)

    def _ask_trust(self, bundle: Path, unknown: UnknownHostKey) -> None:
        self._append("host key", str(unknown))
        if self._trusted:  # trusted a moment ago and still unknown: do not ask in a loop
            self._failed(str(unknown))
            return
        answer = QMessageBox.question(
            self, "Unknown host key",
            f"{unknown.host} port {unknown.port} presents a host key this computer has not seen:\n\n"
            f"{unknown.key_type} {unknown.fingerprint}\n\nCompare it with the device's own (on the Jetson: "
            f"ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trust it and remember it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            self._failed(f"{unknown} Not trusted: nothing was sent.")
            return
        try:
            path = trust_host_key(unknown.host, unknown.port, unknown.key_type, unknown.key_base64,
                                  self.form.target().known_hosts)
        except (InputError, OSError) as error:
            self._failed(f"could not remember the host key: {error}")
            return
        self._trusted = True
        self._append("host key", f"added {unknown.key_type} {unknown.fingerprint} to {path}")
        self._start_deploy(bundle)

    def _ask_passphrase(self, bundle: Path, needed: KeyNeedsPassphrase) -> None:
        self._passphrase_asks += 1
        if self._passphrase_asks > PASSPHRASE_ATTEMPTS:
            self._failed(str(needed))
            return
        passphrase, ok = QInputDialog.getText(self, "Key passphrase", f"{needed}\n\nPassphrase (not stored):",
                                              QLineEdit.EchoMode.Password)
        if not ok:
            self._failed(f"{needed} (no passphrase given)")
            return
        self._start_deploy(bundle, passphrase)

    def _deployed(self, result: DeployResult) -> None:
        self.last_result = result
        engine = (f"engine built (TensorRT {result.engine_info.get('tensorrt', '?')})" if result.engine_info
                  else "engine not built (build off): build it on the device before running")
        self.stage_label.setText(f"Deployed to {result.host} in {result.seconds:.1f} s "
                                 f"({result.bundle_bytes / 1e6:.1f} MB): {engine}. Active: {result.current_path} → "
                                 f"{result.release_path}")

    def _failed(self, message: str) -> None:
        self.banner.show_error(message)
        self._append("failed", message)
        self.stage_label.setText("Failed: see the message above; the log below has every step")

    def _cancelled(self) -> None:
        self._append("cancelled", "by the operator")
        self.stage_label.setText("Cancelled: the device's active deployment only changes at the final switch")

    def _finished(self) -> None:
        worker = self.sender()
        if self.worker is worker:
            self.worker = None
        worker.deleteLater()
        follow_up, self._next = self._next, None
        if follow_up is not None:
            follow_up()  # the next step, or a question for the operator, now that no worker runs
        if self.worker is None:
            if not self._uploaded:  # a bar left busy would look like work still going on
                self.progress.setRange(0, 1)
                self.progress.setValue(1 if self.last_result else 0)
            self._update_buttons()
            self.busy_changed.emit(False)

    def _append(self, stage: str, message: str) -> None:
        # The device's build output is shown as it is; the deployment's own steps are tagged with their stage.
        self.log.appendPlainText(message if stage == "build" else f"[{stage}] {message}")

    def _update_buttons(self) -> None:
        self.deploy_button.setEnabled(self.source is not None and not self.busy)
        self.cancel_button.setEnabled(self.busy)

    def shutdown(self) -> None:
        """Cancel a running deployment and wait for its worker (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(10_000)
        self.device_live.wait()
        if self._work is not None:
            self._work.cleanup()
            self._work = None
