"""`jetson://HOST`: watch a Jetson's live inspection from the station, over SSH only.

    jetson://[USER@]HOST[:PORT][/REMOTE_DIR][?key=PATH&known_hosts=PATH]

The source logs in (key authentication, known host key, as `deploy` does), runs device/live_feed.py of the current
release on an exec channel, and turns each line it prints (the device's status and a down-scaled JPEG of its
window, a few times a second) into a `DeviceFrame`. Nothing new listens on the device's network. The channel has
a pseudo-terminal, so closing the source hangs the reader up on the device. A dropped connection is reconnected
with back-off, reported like a camera that drops out.

Example:
    >>> source = open_jetson_source("jetson://nvidia@jetson.local?key=~/.ssh/id_ed25519")      # doctest: +SKIP
    >>> frame = source.read()   # a DeviceFrame: frame.device["last"]["verdict"], frame.device["fps"], ...
"""

from __future__ import annotations

import base64
import getpass
import json
import shlex
import time
from collections.abc import Generator
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import cv2
import numpy as np

from core.deploy.connection import ConnectionLost, SshTarget, open_client
from core.deploy.live_service import STATE_DIR
from core.deploy.releases import CURRENT
from core.deploy.remote import Remote
from core.errors import Cancelled, InputError
from core.jobs import CancelToken
from core.sources.base import FAILED, OPENING, RETRYING, RUNNING, DeviceFrame, FrameSource
from core.sources.camera import backoff_delay

SCHEME = "jetson://"
DEFAULT_REMOTE_DIR = "~/inspection-station"
_FEED_SECONDS = 10 * 365 * 24 * 3600.0  # the feed runs until the source is closed


def parse_jetson_uri(uri: str) -> tuple[SshTarget, str]:
    """The login and the deployment directory a `jetson://` string names."""
    if not uri.startswith(SCHEME):
        raise InputError(f"{uri}: not a jetson:// source")
    parts = urlsplit(uri)
    if not parts.hostname:
        raise InputError(f"{uri}: no host (e.g. jetson://nvidia@192.168.1.20)")
    try:
        port = parts.port or 22
    except ValueError:
        raise InputError(f"{uri}: the port is not a number from 1 to 65535") from None
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"key", "known_hosts"}
    if unknown:
        raise InputError(f"{uri}: unknown option {sorted(unknown)[0]!r} (key, known_hosts)")
    key = Path(query["key"]).expanduser() if "key" in query else None
    known = Path(query["known_hosts"]).expanduser() if "known_hosts" in query else None
    if key is not None and not key.is_file():
        raise InputError(f"{key}: SSH key file not found (from {uri})")
    target = SshTarget(parts.hostname, unquote(parts.username or getpass.getuser()), port, key, known,
                       connect_timeout=10.0)
    path = unquote(parts.path)
    remote_dir = path[1:] if path.startswith("/~") else (path or DEFAULT_REMOTE_DIR)
    return target, remote_dir.rstrip("/") or DEFAULT_REMOTE_DIR


def open_jetson_source(uri: str, per_second: float = 4.0) -> JetsonSource:
    target, remote_dir = parse_jetson_uri(uri)
    return JetsonSource(target, remote_dir, per_second)


def decode_line(line: str) -> tuple[dict | None, np.ndarray | None]:
    """One feed line -> (status, RGB image or None when the line repeats the last image)."""
    record = json.loads(line)
    jpeg = base64.b64decode(record.get("jpeg") or "")
    image = None
    if jpeg:
        decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if decoded is not None:
            image = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
    status = record.get("status")
    return (status if isinstance(status, dict) else None), image


class JetsonSource(FrameSource):
    """The device's results as frames (live: the newest wins). Connects on the first `read`, on the capture thread."""

    live = True
    inspected_elsewhere = True

    def __init__(self, target: SshTarget, remote_dir: str, per_second: float = 4.0) -> None:
        super().__init__()
        self.target, self.remote_dir, self.per_second = target, remote_dir, per_second
        self.description = f"jetson://{target.label} (inspected on the device)"
        self._token = CancelToken()
        self._remote: Remote | None = None
        self._lines: Generator[str, None, int] | None = None
        self._state = ""

    def read(self) -> DeviceFrame | None:
        attempt = 0
        while not self.closed:
            try:
                lines = self._lines or self._connect()
                line = next(lines)
            except (Cancelled, StopIteration):
                if self.closed:
                    return None
                self._disconnect()
                attempt += 1
                self._retry(f"the feed on {self.target.host} ended", attempt)
                continue
            except (ConnectionLost, OSError) as error:
                self._disconnect()
                attempt += 1
                self._retry(str(error), attempt)
                continue
            except InputError as error:  # host key, refused key: no retry fixes it
                self.report(FAILED, str(error))
                raise
            if not line.startswith("{"):
                continue  # a shell's greeting or python's warnings: not ours
            status, image = decode_line(line)
            self._note_state(status)
            if image is not None and status is not None:
                attempt = 0
                return self._device_frame(image, status)
        return None

    def _device_frame(self, image: np.ndarray, status: dict) -> DeviceFrame:
        self._count += 1
        return DeviceFrame(np.ascontiguousarray(image), self._count, f"{self.target.host} #{status.get('frames', 0)}",
                           captured_at=time.perf_counter(), device=dict(status, host=self.target.host))

    def _note_state(self, status: dict | None) -> None:
        state = (status or {}).get("state", "starting")
        if state != self._state:
            self._state = state
            detail = f": {status.get('error')}" if status and status.get("error") else ""
            kind = FAILED if state == "failed" else RUNNING
            self.report(kind, f"{self.target.host}: live inspection {state}{detail}")

    def _connect(self) -> Generator[str, None, int]:
        from core.deploy.releases import resolve_root

        self.report(OPENING, f"connecting to {self.target.label}")
        self._remote = Remote(open_client(self.target), self.target.label, timeout=15.0)
        root = resolve_root(self._remote, self.remote_dir)
        q = shlex.quote
        command = (f"exec python3 {q(root)}/{CURRENT}/device/live_feed.py --state-dir {q(root)}/{STATE_DIR} "
                   f"--per-second {self.per_second:g}")
        self._lines = self._remote.stream(command, timeout=_FEED_SECONDS, token=self._token)
        self.report(RUNNING, f"watching live inspection on {self.target.host}")
        return self._lines

    def _retry(self, reason: str, attempt: int) -> None:
        delay = backoff_delay(attempt)
        self.report(RETRYING, f"{reason}; reconnecting in {delay:.1f} s (attempt {attempt + 1})", delay, attempt + 1)
        self._closed.wait(delay)

    def _disconnect(self) -> None:
        lines, self._lines = self._lines, None
        if lines is not None:
            lines.close()
        remote, self._remote = self._remote, None
        if remote is not None:
            try:
                remote.close()
            except Exception:  # noqa: BLE001 - a dead connection may complain as it closes
                pass

    def close(self) -> None:
        super().close()
        self._token.cancel()

    def release(self) -> None:
        self._disconnect()
