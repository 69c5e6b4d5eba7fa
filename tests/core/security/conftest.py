"""The security tests reuse the deployment tests' kit: tiny real bundles and the loopback OpenSSH server."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))

from deploy_testkit import SshServer, running_sshd  # noqa: E402 - needs the path above


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    with running_sshd(tmp_path / "sshd") as server:
        yield server
