"""Errors of a deployment, each one a message the operator can act on (and, for host keys, a question to answer).

All of them are `InputError`s, so a caller that only knows the engine's convention shows them as they are; the app
catches `UnknownHostKey` first to ask whether to trust the key.
"""

from __future__ import annotations

from core.errors import InputError


class DeployError(InputError):
    """A deployment failed; the message says where (host, path, step) and what to do. The active deployment on the
    device is untouched."""


class ConnectionFailed(DeployError):
    """The device could not be reached, or the connection was lost and the retries ran out."""


class AuthenticationFailed(DeployError):
    """The device refused the client key (or the key could not be read or unlocked)."""


class KeyNeedsPassphrase(AuthenticationFailed):
    """The client key is encrypted and no (or a wrong) passphrase was given; ask for it and try again."""


class UnknownHostKey(DeployError):
    """The device's host key is not in known_hosts. Show `fingerprint` to the operator; if they confirm it, call
    `core.deploy.host_keys.trust_host_key(error.host, error.port, error.key_type, error.key_base64)` and retry."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, key_base64: str) -> None:
        super().__init__(
            f"{host} port {port}: unknown host key {key_type} {fingerprint}. Check it on the device "
            f"(ssh-keygen -lf /etc/ssh/ssh_host_{_short_type(key_type)}_key.pub) before trusting it.")
        self.host = host
        self.port = port
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.key_base64 = key_base64


class HostKeyMismatch(DeployError):
    """The device's host key differs from the one in known_hosts: a reinstalled device or an attack; refused."""

    def __init__(self, host: str, port: int, key_type: str, fingerprint: str, known_fingerprint: str,
                 known_hosts: str, entry_name: str) -> None:
        super().__init__(
            f"{host} port {port}: the host key changed (now {key_type} {fingerprint}, known_hosts {known_hosts} has "
            f"{known_fingerprint}). Refusing to connect. If the device was reinstalled, remove its old entry with "
            f"ssh-keygen -R '{entry_name}' -f {known_hosts} and connect again.")
        self.host = host
        self.port = port
        self.key_type = key_type
        self.fingerprint = fingerprint
        self.known_fingerprint = known_fingerprint


class EngineNotBuilt(DeployError):
    """The bundle arrived and was verified, but the TensorRT engine was not built (no trtexec, build failed, timed
    out, unsupported TensorRT); the new release was not activated. `log` is the local copy of the build log."""

    def __init__(self, message: str, *, reason: str, release: str, log: str | None) -> None:
        super().__init__(message)
        self.reason = reason
        self.release = release
        self.log = log


def _short_type(key_type: str) -> str:
    """'ssh-ed25519' -> 'ed25519', 'ecdsa-sha2-nistp256' -> 'ecdsa', as in /etc/ssh/ssh_host_*_key.pub."""
    if key_type.startswith("ecdsa"):
        return "ecdsa"
    return key_type.removeprefix("ssh-")
