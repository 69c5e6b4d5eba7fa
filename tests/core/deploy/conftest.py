"""Fixtures for the deployment tests (the helpers behind them are in deploy_testkit.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_testkit import SSHD, SshServer, make_bundle


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path, precision="int8")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A running server; skipped, with the reason, where OpenSSH's server cannot run."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed (apt-get install -y openssh-server)")
    if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
        try:  # sshd started as root insists on its privilege-separation directory (the package's service makes it)
            Path("/run/sshd").mkdir(mode=0o755, parents=True)
        except OSError as error:
            pytest.skip(f"sshd needs /run/sshd and it cannot be created: {error}")
    root = tmp_path / "sshd"
    root.mkdir()
    server = SshServer(root)
    try:
        yield server
    finally:
        server.stop()
