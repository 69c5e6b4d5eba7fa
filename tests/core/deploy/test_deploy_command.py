"""The `deploy` subcommand end to end against the loopback SSH server: what the operator reads, and exit codes."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
from deploy_testkit import SshServer

from core.commands.deploy import register, run


def _cli(sshd: SshServer, bundle: Path, tmp_path: Path, *extra: str) -> int:
    parser = argparse.ArgumentParser(prog="core")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["deploy", "--model", str(bundle), "--host", sshd.host, "--port", str(sshd.port),
                              "--user", sshd.user, "--key", str(sshd.client_key), "--known-hosts",
                              str(sshd.known_hosts), "--remote-dir", str(tmp_path / "device"),
                              "--log-dir", str(tmp_path / "logs"), *extra])
    return run(args)


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # nobody to ask: prompts must not appear


def test_unknown_host_is_reported_without_traceback_then_trusted_on_request(
        sshd: SshServer, bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sshd.known_hosts.write_text("")
    assert _cli(sshd, bundle, tmp_path, "--no-build") == 1
    err = capsys.readouterr().err
    assert "error: 127.0.0.1 port" in err and "unknown host key ssh-ed25519 SHA256:" in err
    assert "Traceback" not in err
    assert _cli(sshd, bundle, tmp_path, "--no-build", "--trust-new-host") == 0
    out = capsys.readouterr().out
    assert "added ssh-ed25519 SHA256:" in out and f"deployed {bundle} to 127.0.0.1" in out
    assert "engine not built (--no-build)" in out and (tmp_path / "device" / "current").is_symlink()
    assert sshd.known_hosts.read_text().startswith("|1|")


def test_build_without_trtexec_says_the_engine_was_not_built(sshd: SshServer, bundle: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(sshd, bundle, tmp_path, "--build") == 1
    captured = capsys.readouterr()
    assert "the engine was not built: trtexec was not found" in captured.err and "Traceback" not in captured.err
    assert "[build] error: trtexec not found" in captured.out  # the device's log, streamed as it came


def test_a_folder_that_is_no_bundle(sshd: SshServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(sshd, tmp_path / "empty", tmp_path) == 1
    assert "not a deployment bundle or model directory (the path does not exist)" in capsys.readouterr().err
