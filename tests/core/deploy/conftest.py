"""Fixtures for the deployment tests (the helpers behind them are in deploy_testkit.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_testkit import SshServer, make_bundle, running_sshd


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path, precision="int8")


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    """A running server; skipped, with the reason, where OpenSSH's server cannot run."""
    with running_sshd(tmp_path / "sshd") as server:
        yield server
