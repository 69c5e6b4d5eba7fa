"""Opening an SSH connection to the device: key authentication only, host key checked against known_hosts.

Failures come out as the deployment errors the operator can act on (`UnknownHostKey`, `HostKeyMismatch`,
`AuthenticationFailed`, `ConnectionFailed`) or as `ConnectionLost` when retrying later may help (refused, timed
out, reset). Passwords are never asked for nor stored; a key passphrase, when given, lives only in memory.

Example:
    >>> target = SshTarget("jetson.local", "nvidia", key_path=Path("~/.ssh/id_ed25519"))
    >>> client = open_client(target)
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from core.deploy.errors import AuthenticationFailed, ConnectionFailed, HostKeyMismatch, KeyNeedsPassphrase
from core.deploy.host_keys import StopOnUnknownKey, known_hosts_name, load_known_hosts, resolve_known_hosts
from core.errors import InputError


class ConnectionLost(Exception):
    """The connection could not be opened or broke off (refused, reset, timed out): worth retrying."""


@dataclass(frozen=True)
class SshTarget:
    """Where to deploy and how to log in. `key_path` None means the SSH agent and ~/.ssh/id_* keys, as `ssh` does;
    `known_hosts` None means ~/.ssh/known_hosts."""

    host: str
    user: str
    port: int = 22
    key_path: Path | None = None
    known_hosts: Path | None = None
    connect_timeout: float = 15.0

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def open_client(target: SshTarget, passphrase: str | None = None) -> paramiko.SSHClient:
    """Connect and authenticate; the caller closes the client."""
    known_hosts = resolve_known_hosts(target.known_hosts)
    pkey = _load_key(target.key_path, passphrase) if target.key_path is not None else None
    client = paramiko.SSHClient()
    # Only this file is consulted (not /etc/ssh/ssh_known_hosts), and paramiko never writes to it.
    load_known_hosts(known_hosts, into=client.get_host_keys())
    client.set_missing_host_key_policy(StopOnUnknownKey(target.host, target.port))
    started = time.monotonic()
    try:
        client.connect(
            target.host, port=target.port, username=target.user, pkey=pkey,
            allow_agent=pkey is None, look_for_keys=pkey is None,
            timeout=target.connect_timeout, banner_timeout=target.connect_timeout,
            auth_timeout=target.connect_timeout, channel_timeout=target.connect_timeout)
    except paramiko.BadHostKeyException as error:
        client.close()
        known = error.expected_key
        raise HostKeyMismatch(target.host, target.port, error.key.get_name(), error.key.fingerprint,
                              f"{known.get_name()} {known.fingerprint}", str(known_hosts),
                              known_hosts_name(target.host, target.port)) from None
    except paramiko.AuthenticationException as error:
        client.close()
        which = f"key {target.key_path}" if pkey is not None else "the SSH agent and ~/.ssh/id_* keys"
        raise AuthenticationFailed(
            f"{target.label}: the device refused {which} ({error}). Add the public key to "
            f"~{target.user}/.ssh/authorized_keys on the device (ssh-copy-id).") from None
    except socket.gaierror as error:
        client.close()
        raise ConnectionFailed(f"{target.host}: cannot resolve the host name ({error.strerror})") from None
    except (OSError, EOFError, paramiko.SSHException) as error:
        client.close()
        if isinstance(error, paramiko.SSHException) and time.monotonic() - started >= 0.9 * target.connect_timeout:
            # paramiko words a handshake that timed out in various ways ("No existing session", banner errors)
            reason = f"no SSH handshake within {target.connect_timeout:.0f} s"
        else:
            reason = _describe(error)
        raise ConnectionLost(f"cannot connect to {target.label}: {reason}") from None
    except BaseException:
        client.close()
        raise
    return client


def check_key(path: Path) -> None:
    """Refuse a key file that is no private key before any long step (exporting a model) starts; an encrypted key
    passes (its passphrase is asked for when connecting)."""
    try:
        _load_key(path, None)
    except KeyNeedsPassphrase:
        pass


def _load_key(path: Path, passphrase: str | None) -> paramiko.PKey:
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: SSH key file not found")
    try:
        return paramiko.PKey.from_path(path)
    except TypeError:  # cryptography's way of saying the key is encrypted
        pass
    except (ValueError, paramiko.SSHException, OSError):
        raise AuthenticationFailed(f"{path}: {_not_a_key(path)}") from None
    if passphrase is None:
        raise KeyNeedsPassphrase(f"{path}: the key is encrypted; give its passphrase")
    try:
        return paramiko.PKey.from_path(path, password=passphrase.encode())
    except (TypeError, ValueError, paramiko.SSHException, OSError):
        raise KeyNeedsPassphrase(f"{path}: the passphrase does not unlock the key") from None


def _not_a_key(path: Path) -> str:
    """Why a file is no private key, in words that say what to give instead (the libraries' errors do not)."""
    try:
        head = path.read_bytes()[:32]
    except OSError as error:
        return f"cannot read the key file ({error.strerror or error})"
    if head.startswith((b"ssh-", b"ecdsa-", b"sk-")):
        return "is a public key; give the private key (usually the same name without .pub)"
    return "not an SSH private key (expected one in OpenSSH or PEM format, as ssh-keygen writes)"


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout):
        return "timed out"
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return "connection refused"
    return str(error) or type(error).__name__
