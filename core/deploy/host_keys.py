"""Host-key policy: the device's key must be in known_hosts; an unknown key stops with its fingerprint, a changed
key is refused, and trusting a key appends it to known_hosts atomically (OpenSSH's hashed-host format).

Example:
    >>> try:
    ...     client = open_client(target)
    ... except UnknownHostKey as unknown:
    ...     if operator_confirms(unknown.fingerprint):
    ...         trust_host_key(unknown.host, unknown.port, unknown.key_type, unknown.key_base64)
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path

import paramiko

from core.deploy.errors import UnknownHostKey
from core.errors import InputError

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


def known_hosts_name(host: str, port: int) -> str:
    """The name OpenSSH files a host under: `host` on port 22, `[host]:port` elsewhere."""
    return host if port == 22 else f"[{host}]:{port}"


def resolve_known_hosts(path: Path | None) -> Path:
    """`path`, or ~/.ssh/known_hosts when None, with ~ expanded."""
    return (DEFAULT_KNOWN_HOSTS if path is None else Path(path)).expanduser()


def load_known_hosts(path: Path, into: paramiko.HostKeys) -> None:
    """Add the host keys in `path` to `into`; none when the file does not exist yet (a fresh account)."""
    if path.exists():
        try:
            into.load(str(path))
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: cannot read known_hosts ({error})") from None


class StopOnUnknownKey(paramiko.MissingHostKeyPolicy):
    """Paramiko policy that raises `UnknownHostKey` (with the SHA256 fingerprint) instead of connecting."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        raise UnknownHostKey(self._host, self._port, key.get_name(), key.fingerprint, key.get_base64())


def trust_host_key(host: str, port: int, key_type: str, key_base64: str, known_hosts: Path | None = None,
                   *, hashed: bool = True) -> Path:
    """Append the key to known_hosts (default ~/.ssh/known_hosts) and return the file's path.

    The file is rewritten through a temporary sibling and renamed, so a crash never leaves it truncated; a symlinked
    known_hosts is updated at its target. With `hashed`, the host name is stored hashed, as `HashKnownHosts` does.
    """
    path = resolve_known_hosts(known_hosts).resolve()
    try:  # parse it as paramiko will when it reads the file back: a line it cannot parse would be skipped silently
        paramiko.PKey.from_type_string(key_type, base64.b64decode(key_base64, validate=True))
    except Exception as error:  # noqa: BLE001 - whatever the parser says, the key is not worth storing
        raise InputError(f"cannot trust host key for {host}: not a valid {key_type} key ({error})") from None
    name = known_hosts_name(host, port)
    entry = f"{paramiko.HostKeys.hash_host(name) if hashed else name} {key_type} {key_base64}\n"
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    previous = path.read_bytes() if path.exists() else b""
    if previous and not previous.endswith(b"\n"):
        previous += b"\n"
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    handle, temporary = tempfile.mkstemp(prefix=".known_hosts.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(previous + entry.encode())
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
