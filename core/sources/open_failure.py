"""Say why a camera or stream could not be opened, since OpenCV only answers "not opened".

The reason goes into the message the operator reads ("connection to 127.0.0.1:8554 refused", "/dev/video3 does
not exist"), so that a wrong port, a camera that is unplugged and a stream in a format OpenCV cannot read are told
apart without a debugger.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}
_PROBE_SECONDS = 2.0


def describe_open_failure(target: int | str) -> str:
    """A short reason why `target` (camera index, device path, URL or pipeline) did not open."""
    if isinstance(target, int):
        return _describe_device(Path(f"/dev/video{target}"), f"camera index {target}")
    if target.startswith("/dev/"):
        return _describe_device(Path(target), target)
    if "://" in target:
        return _describe_url(target)
    return "OpenCV could not open it"


def _describe_device(device: Path, name: str) -> str:
    if sys.platform.startswith("linux") and not device.exists():
        return f"no such camera: {device} does not exist"
    return f"OpenCV could not open {name} (unplugged, used by another program, or not a camera)"


def _describe_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:  # UDP and the like: no connection to try
        return "OpenCV could not open it"
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return f"the port in {url} is not a number"
    if not parts.hostname or port is None:
        return "OpenCV could not open it"
    address = f"{parts.hostname}:{port}"
    try:
        with socket.create_connection((parts.hostname, port), timeout=_PROBE_SECONDS):
            pass
    except ConnectionRefusedError:
        return f"connection to {address} refused: nothing listens there"
    except TimeoutError:
        return f"no answer from {address} within {_PROBE_SECONDS:g} s"
    except socket.gaierror:
        return f"unknown host {parts.hostname}"
    except OSError as error:
        return f"cannot reach {address} ({error.strerror or error})"
    return f"{address} answered, but sent no video OpenCV can read at that path"
