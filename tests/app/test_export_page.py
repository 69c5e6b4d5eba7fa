"""The Export page deploying to a real OpenSSH server on 127.0.0.1 (the deployment tests' stand-in Jetson, with a
fake trtexec): the unknown host key asked about and remembered, the build log streamed into the page, `current`
switched on the "device"; a changed host key refused; an encrypted key's passphrase asked for and never stored;
a model folder exported to a bundle on the way; the fields remembered."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMessageBox

from app.model_state import QtActiveModel
from app.pages.export_page import ExportPage
from app.settings import AppSettings
from core.bundle import verify_bundle
from tests.core.deploy.deploy_testkit import SSHD, SshServer, fake_trtexec, make_bundle


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A running server; skipped, with the reason, where OpenSSH's server cannot run (as in tests/core/deploy)."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed (apt-get install -y openssh-server)")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:
            Path("/run/sshd").mkdir(mode=0o755, parents=True)
        except OSError as error:
            pytest.skip(f"sshd needs /run/sshd and it cannot be created: {error}")
    (tmp_path / "sshd").mkdir()
    server = SshServer(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


def _page(qtbot, settings: AppSettings, model_path: Path) -> ExportPage:
    model = QtActiveModel()
    page = ExportPage(settings, model)
    qtbot.addWidget(page, before_close_func=lambda widget: widget.shutdown())
    model.setParent(page)
    model.load(model_path)
    qtbot.waitUntil(lambda: page.source == model_path.absolute(), timeout=30_000)
    return page


def _fill(page: ExportPage, server: SshServer, remote: Path, known_hosts: Path, key: Path | None = None,
          build: bool = True) -> None:
    form = page.form
    form.host.setText(server.host)
    form.port.setValue(server.port)
    form.user.setText(server.user)
    form.key.setText(str(key or server.client_key))
    form.known_hosts.setText(str(known_hosts))
    form.remote_dir.setText(str(remote))
    form.build.setChecked(build)


def _refuse_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    def unexpected(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"no dialog expected here: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", unexpected)
    monkeypatch.setattr(QInputDialog, "getText", unexpected)


def test_deploy_asks_to_trust_the_host_streams_the_build_log_and_switches(
        qtbot, settings: AppSettings, sshd: SshServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = make_bundle(tmp_path, precision="int8")
    fake_trtexec(sshd.bin_dir, "v8502")
    page = _page(qtbot, settings, bundle)
    assert "deployment bundle" in page.model_label.text() and not page.form.precision.isEnabled()
    remote, known_hosts = tmp_path / "device" / "inspection-station", tmp_path / "fresh_known_hosts"
    _fill(page, sshd, remote, known_hosts)
    asked: list[str] = []

    def operator_says_yes(parent: object, title: str, text: str, *args: object) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes  # the operator compared the fingerprint and clicked Yes

    monkeypatch.setattr(QMessageBox, "question", operator_says_yes)
    qtbot.mouseClick(page.deploy_button, Qt.MouseButton.LeftButton)
    assert page.busy and not page.deploy_button.isEnabled()
    qtbot.waitUntil(lambda: not page.busy, timeout=60_000)

    assert page.banner.text() == "", page.log.toPlainText()
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{sshd.host_key}.pub"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    assert len(asked) == 1 and fingerprint in asked[0]
    assert known_hosts.read_text().split()[1:] == sshd.host_key.with_suffix(".pub").read_text().split()[:2]
    result = page.last_result
    assert result is not None and result.engine_built and result.engine_info["tensorrt"].startswith("8.5")
    assert os.readlink(remote / "current") == f"releases/{result.release_id}"
    verify_bundle(remote / "current")  # every file as sent
    log = page.log.toPlainText()
    assert "&&&& PASSED TensorRT.trtexec [TensorRT v8502]" in log  # the device's build output, streamed
    assert f"added ssh-ed25519 {fingerprint}" in log and "[activate]" in log
    assert page.progress.maximum() == result.bundle_bytes == page.progress.value()
    assert "engine built" in page.stage_label.text() and page.deploy_button.isEnabled()

    again = ExportPage(settings, QtActiveModel())  # the fields come back in a new window
    qtbot.addWidget(again)
    assert (again.form.host.text(), again.form.port.value(), again.form.user.text(), again.form.key.text(),
            again.form.remote_dir.text()) == (sshd.host, sshd.port, sshd.user, str(sshd.client_key), str(remote))


def test_a_changed_host_key_is_refused(qtbot, settings: AppSettings, sshd: SshServer, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(qtbot, settings, make_bundle(tmp_path))
    impostor = tmp_path / "impostor"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(impostor)], check=True)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{sshd.host}]:{sshd.port} {' '.join(impostor.with_suffix('.pub').read_text().split()[:2])}\n")
    remote = tmp_path / "device"
    _fill(page, sshd, remote, known_hosts)
    _refuse_dialogs(monkeypatch)
    assert page.deploy()
    qtbot.waitUntil(lambda: not page.busy, timeout=30_000)
    assert "the host key changed" in page.banner.text() and "Refusing to connect" in page.banner.text()
    assert page.last_result is None and not (remote / "current").exists()


def test_an_encrypted_key_asks_for_its_passphrase_and_a_model_folder_is_exported_first(
        qtbot, settings: AppSettings, sshd: SshServer, tiny_model: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", str(locked)], check=True)
    (sshd.root / "authorized_keys").write_text(locked.with_suffix(".pub").read_text())
    page = _page(qtbot, settings, tiny_model)
    assert "model folder" in page.model_label.text() and page.form.precision.isEnabled()
    remote = tmp_path / "device"
    _fill(page, sshd, remote, sshd.known_hosts, key=locked, build=False)
    page.form.precision.setCurrentIndex(page.form.precision.findData("int8"))
    prompts: list[str] = []

    def operator_types(parent: object, title: str, label: str, *args: object) -> tuple[str, bool]:
        prompts.append(label)
        return "open sesame", True

    _refuse_dialogs(monkeypatch)
    monkeypatch.setattr(QInputDialog, "getText", operator_types)
    assert page.deploy()
    qtbot.waitUntil(lambda: not page.busy, timeout=60_000)

    assert page.banner.text() == "", page.log.toPlainText()
    assert len(prompts) == 1 and "encrypted" in prompts[0]
    result = page.last_result
    assert result is not None and not result.engine_built
    deployed = verify_bundle(remote / "current")
    assert deployed.precision == "int8" and deployed.source_model == str(tiny_model.absolute())
    assert "engine not built" in page.stage_label.text()
    settings.store.sync()
    stored = Path(settings.store.fileName()).read_text()
    assert "sesame" not in stored and "int8" in stored  # the passphrase is never written down
