"""Remote commands quote every argument: a deployment directory named like a shell command is a name, nothing more.
Deployed for real into such directories on the loopback OpenSSH server (its files are this machine's)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from deploy_testkit import SshServer, fake_trtexec, make_bundle

from core.cli import main
from core.bundle import verify_bundle
from core.deploy.push import DeployOptions, deploy
from core.jobs import CancelToken, run_to_end

# Each runs `touch <marker>` if any command passes it to the shell unquoted (or quoted wrongly).
HOSTILE = {
    "a b;touch x": ["x"],
    "q'$(touch pwned-1)`touch pwned-2`\"; touch pwned-3 #": ["pwned-1", "pwned-2", "pwned-3"],
    "-rf && touch pwned-4 || touch pwned-5 > pwned-6 \\": ["pwned-4", "pwned-5", "pwned-6"],
}


def _markers(markers: list[str], tree: Path, tops: list[Path]) -> dict[Path, int]:
    """Every file named like a marker anywhere below `tree` or directly in `tops`, with its modification time (a
    stray `touch` creates one, or bumps the time of one that was there already)."""
    found = [path for path in tree.rglob("*") if path.name in markers]
    found += [top / marker for top in tops for marker in markers if os.path.lexists(top / marker)]
    return {path: path.lstat().st_mtime_ns for path in found}


@pytest.mark.parametrize("name", HOSTILE)
def test_deploy_into_a_directory_named_like_a_command(sshd: SshServer, tmp_path: Path, name: str,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    markers = HOSTILE[name]
    # Where a stray `touch` would land: the login's home (a session's working directory), the folders commands
    # `cd` into (all below tmp_path), this process's working directory.
    tops = [Path.home(), Path.cwd(), Path("/tmp"), Path("/")]
    before = _markers(markers, tmp_path, tops)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    bundle = make_bundle(tmp_path, precision="int8")
    fake_trtexec(sshd.bin_dir, "v8502")  # so the build step's command runs too (in the release directory)
    remote = tmp_path / "device" / name / "station"
    status = main(["deploy", "--model", str(bundle), "--host", sshd.host, "--port", str(sshd.port),
                   "--user", sshd.user, "--key", str(sshd.client_key), "--known-hosts", str(sshd.known_hosts),
                   "--remote-dir", str(remote), "--log-dir", str(tmp_path / "logs"), "--build"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert (tmp_path / "device" / name).is_dir() and sorted(os.listdir(tmp_path / "device")) == [name]
    release = remote / os.readlink(remote / "current")
    verify_bundle(release)
    assert (release / "model.engine").read_bytes() == b"engine bytes"  # built in place by the fake trtexec

    first = release.name
    options = DeployOptions(remote_dir=str(remote), build=False, keep_releases=1, command_timeout=20.0)
    for _ in range(2):  # the second one prunes the first: rm -rf on the literal path, nothing beside it
        run_to_end(deploy(bundle, sshd.target(), CancelToken(), options))
    assert first not in os.listdir(remote / "releases") and len(os.listdir(remote / "releases")) == 2
    assert sorted(os.listdir(remote)) == ["current", "releases"]
    assert _markers(markers, tmp_path, tops) == before
