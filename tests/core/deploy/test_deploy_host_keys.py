"""known_hosts handling: trusting a key appends it atomically (hashed), keeps what was there, and paramiko finds it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import paramiko
import pytest

from core.deploy.host_keys import known_hosts_name, trust_host_key
from core.errors import InputError


def _public_key(tmp_path: Path, name: str) -> tuple[str, str]:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    key_type, key_base64 = (tmp_path / f"{name}.pub").read_text().split()[:2]
    return key_type, key_base64


def test_trusted_key_is_appended_hashed_and_found_by_paramiko(tmp_path: Path) -> None:
    known_hosts = tmp_path / "ssh" / "known_hosts"
    known_hosts.parent.mkdir()
    known_hosts.write_text("# my hosts\nother.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2g")  # no final newline
    known_hosts.chmod(0o644)
    key_type, key_base64 = _public_key(tmp_path, "device")
    assert trust_host_key("10.0.0.7", 2222, key_type, key_base64, known_hosts) == known_hosts
    lines = known_hosts.read_text().splitlines()
    assert lines[:2] == ["# my hosts", "other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE2g"]
    assert lines[2].startswith("|1|") and "10.0.0.7" not in lines[2]  # hashed, as HashKnownHosts does
    assert known_hosts.stat().st_mode & 0o777 == 0o644
    keys = paramiko.HostKeys(str(known_hosts))
    assert keys.lookup("[10.0.0.7]:2222")[key_type].get_base64() == key_base64
    assert keys.lookup("10.0.0.7") is None
    assert [p.name for p in known_hosts.parent.iterdir()] == ["known_hosts"]  # no temporary left


def test_first_key_creates_the_ssh_directory_privately(tmp_path: Path) -> None:
    key_type, key_base64 = _public_key(tmp_path, "device")
    path = trust_host_key("jetson", 22, key_type, key_base64, tmp_path / "new" / "known_hosts", hashed=False)
    assert path.read_text() == f"jetson {key_type} {key_base64}\n"
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700


def test_a_garbled_key_is_not_stored(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a valid ssh-ed25519 key"):
        trust_host_key("jetson", 22, "ssh-ed25519", "bm90IGEga2V5", tmp_path / "known_hosts")
    assert not (tmp_path / "known_hosts").exists()


def test_known_hosts_name_follows_openssh() -> None:
    assert known_hosts_name("jetson", 22) == "jetson" and known_hosts_name("::1", 2200) == "[::1]:2200"
