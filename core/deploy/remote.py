"""Commands and file transfer on the device over one SSH connection, each bounded in time.

A broken or silent connection comes out as `ConnectionLost` (the caller may reconnect and retry); an error the
device reports (a failing command, a refused write) is returned or raised as itself, so the two are never confused.

Example:
    >>> remote = Remote(open_client(target), target.label, timeout=30.0)
    >>> remote.run("uname -m").stdout
    'aarch64\\n'
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import paramiko

from core.deploy.connection import ConnectionLost, SshTarget, open_client
from core.deploy.errors import ConnectionFailed
from core.jobs import CancelToken

_POLL_SECONDS = 0.005


@dataclass(frozen=True)
class CommandResult:
    status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    def reason(self) -> str:
        """The device's own words for a failure: stderr, else stdout, else the exit status."""
        text = (self.stderr.strip() or self.stdout.strip())
        return text.splitlines()[-1] if text else f"exit status {self.status}"


class Remote:
    """An authenticated connection to the device: `run` a command, `stream` a long one's output, `sftp` files."""

    def __init__(self, client: paramiko.SSHClient, label: str, timeout: float) -> None:
        self.client = client
        self.label = label
        self.timeout = timeout
        self._sftp: paramiko.SFTPClient | None = None

    def run(self, command: str, *, timeout: float | None = None) -> CommandResult:
        """Run `command` with the user's shell; its whole output once it exits within `timeout` seconds."""
        limit = self.timeout if timeout is None else timeout
        channel = self._open(command, pty=False)
        out, err = bytearray(), bytearray()
        deadline = time.monotonic() + limit
        try:
            while True:
                if channel.recv_ready():
                    out += channel.recv(1 << 16)
                elif channel.recv_stderr_ready():
                    err += channel.recv_stderr(1 << 16)
                elif channel.exit_status_ready():
                    break
                else:
                    self._wait(deadline, limit, command)
            return CommandResult(channel.recv_exit_status(), out.decode(errors="replace"),
                                 err.decode(errors="replace"))
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise self.lost_or_raise(error) from None
        finally:
            channel.close()

    def stream(self, command: str, *, timeout: float, token: CancelToken) -> Generator[str, None, int]:
        """Yield `command`'s output lines (stdout and stderr merged) as they come; return its exit status.

        It runs on a pseudo-terminal so that closing the channel (cancel, time-out, our side going away) hangs it
        up on the device instead of leaving it running there.
        """
        channel = self._open(command, pty=True)
        pending = b""
        deadline = time.monotonic() + timeout
        try:
            while True:
                token.raise_if_cancelled()
                if channel.recv_ready():
                    pending += channel.recv(1 << 16)
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line.decode(errors="replace").rstrip("\r")
                elif channel.exit_status_ready():
                    break
                else:
                    self._wait(deadline, timeout, command)
            if pending.strip():
                yield pending.decode(errors="replace").rstrip("\r")
            return channel.recv_exit_status()
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise self.lost_or_raise(error) from None
        finally:
            channel.close()

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """One SFTP session for the connection, its reads and writes bounded by the time-out."""
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except (OSError, EOFError, paramiko.SSHException) as error:
                raise self.lost_or_raise(error) from None
            self._sftp.get_channel().settimeout(self.timeout)
        return self._sftp

    def lost_or_raise(self, error: BaseException) -> BaseException:
        """`ConnectionLost` when `error` means the connection is gone or silent; else `error` itself (a refusal by
        the device, e.g. a read-only file system), for the caller to report."""
        transport = self.client.get_transport()
        gone = transport is None or not transport.is_active()
        if gone or isinstance(error, (EOFError, TimeoutError, ConnectionError, paramiko.SSHException)):
            detail = "timed out" if isinstance(error, TimeoutError) else (str(error) or type(error).__name__)
            return ConnectionLost(f"connection to {self.label} lost ({detail})")
        return error

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()

    def _open(self, command: str, *, pty: bool) -> paramiko.Channel:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionLost(f"connection to {self.label} lost")
        try:
            channel = transport.open_session(timeout=self.timeout)
            if pty:
                channel.get_pty(width=200)
            channel.exec_command(command)
        except (OSError, EOFError, paramiko.SSHException) as error:
            raise self.lost_or_raise(error) from None
        return channel

    def _wait(self, deadline: float, limit: float, command: str) -> None:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise ConnectionLost(f"connection to {self.label} lost")
        if time.monotonic() > deadline:
            raise ConnectionLost(f"{self.label} did not finish `{command[:60]}` within {limit:.0f} s")
        time.sleep(_POLL_SECONDS)


@contextmanager
def connected(target: SshTarget, passphrase: str | None = None, timeout: float = 60.0) -> Iterator[Remote]:
    """A `Remote` for one short conversation with the device, closed after it; a connection that cannot be opened
    is a `ConnectionFailed` (no retry: the operator asked for something and is told at once)."""
    try:
        remote = Remote(open_client(target, passphrase), target.label, timeout)
    except ConnectionLost as lost:
        raise ConnectionFailed(str(lost)) from None
    try:
        yield remote
    finally:
        remote.close()
