"""`deploy` to a device that cannot be reached or will not let us in, or with a key that is no key: one line naming
the host, port or key file, no traceback, and the device's active deployment unchanged."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest
from bad_input_testkit import error_line, run_cli
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from deploy_testkit import SshServer, make_bundle


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # nobody to ask: prompts must not appear


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path, precision="fp32")


@pytest.fixture
def private_key(tmp_path: Path) -> Path:
    """A valid Ed25519 key in OpenSSH format, with its public half beside it (as ssh-keygen leaves them)."""
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "id_ed25519"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.with_suffix(".pub").write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                                       serialization.PublicFormat.OpenSSH))
    return path


def closed_port() -> int:
    with socket.socket() as probe:  # bound and closed again: nothing listens there now
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def deploy(bundle: Path, tmp_path: Path, *, host: str = "127.0.0.1", port: int | None = None, key: Path | None,
           user: str = "nvidia", known_hosts: Path | None = None) -> list[object]:
    return ["deploy", "--model", bundle, "--host", host, "--port", port or closed_port(), "--user", user,
            *(["--key", key] if key is not None else []), "--known-hosts", known_hosts or tmp_path / "known_hosts",
            "--remote-dir", tmp_path / "device", "--log-dir", tmp_path / "logs", "--no-build", "--retries", 0]


def test_closed_port(bundle: Path, tmp_path: Path, private_key: Path) -> None:
    port = closed_port()
    error_line(run_cli(*deploy(bundle, tmp_path, port=port, key=private_key)), f"nvidia@127.0.0.1:{port}",
               "connection refused", "the active deployment on the device is unchanged", code=1)


def test_unknown_host_name(bundle: Path, tmp_path: Path, private_key: Path) -> None:
    error_line(run_cli(*deploy(bundle, tmp_path, host="no-such-jetson.invalid", port=22, key=private_key)),
               "no-such-jetson.invalid: cannot resolve the host name", code=1)


def test_missing_key_file(bundle: Path, tmp_path: Path) -> None:
    error_line(run_cli(*deploy(bundle, tmp_path, key=tmp_path / "id_missing")), "argument --key:",
               tmp_path / "id_missing", "does not exist")
    assert not (tmp_path / "logs").exists()


def test_a_folder_given_as_the_key(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    error_line(run_cli(*deploy(bundle, tmp_path, key=tmp_path / "keys")), "argument --key:", tmp_path / "keys",
               "is a folder, not a file")


def test_garbage_key_file(bundle: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "id_rsa"
    garbage.write_bytes(os.urandom(300))
    error_line(run_cli(*deploy(bundle, tmp_path, key=garbage)), garbage, "not an SSH private key", code=1)
    assert not (tmp_path / "device").exists()


def test_public_key_given_instead_of_the_private_one(bundle: Path, tmp_path: Path, private_key: Path) -> None:
    public = private_key.with_suffix(".pub")
    error_line(run_cli(*deploy(bundle, tmp_path, key=public)), public, "is a public key",
               "without .pub", code=1)


def test_unknown_host_key(sshd: SshServer, bundle: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    result = run_cli(*deploy(bundle, tmp_path, port=sshd.port, key=sshd.client_key, user=sshd.user,
                             known_hosts=empty))
    error_line(result, f"127.0.0.1 port {sshd.port}", "unknown host key ssh-ed25519 SHA256:", "--trust-new-host",
               code=1)
    assert empty.read_text() == "" and not (tmp_path / "device").exists()


def test_key_the_device_refuses_leaves_the_deployment_active(sshd: SshServer, bundle: Path, tmp_path: Path,
                                                             private_key: Path) -> None:
    first = run_cli(*deploy(bundle, tmp_path, port=sshd.port, key=sshd.client_key, user=sshd.user,
                            known_hosts=sshd.known_hosts))
    assert first.code == 0, first.err
    active = os.readlink(tmp_path / "device" / "current")
    result = run_cli(*deploy(bundle, tmp_path, port=sshd.port, key=private_key, user=sshd.user,
                             known_hosts=sshd.known_hosts))
    error_line(result, "the device refused key", private_key, "authorized_keys", code=1)
    assert os.readlink(tmp_path / "device" / "current") == active
