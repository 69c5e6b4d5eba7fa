"""What live.py leaves on the device, in its state folder beside the releases (<root>/live by default):

    status.json        release, source, fps, latency split, memory, last verdict; rewritten atomically a few times
                       a second (the station's `device status` and the jetson:// feed read it)
    overlay.jpg        the last rendered window, down-scaled, written with the status (the station's live view)
    verdicts.jsonl     one JSON line per inspected frame, rotated by size (verdicts.jsonl.1, .2, ...)
    ng/                NG frames (PNG with the overlay); the oldest are removed beyond a total size
    reason.txt         why the last run ended in failure (live.py's own error, or the supervisor's exit status)

Memory comes from tegrastats (a Jetson: RAM shared by CPU and GPU, and the GPU load) when it is on the PATH, jtop
when it imports, and the process RSS from /proc everywhere. Python 3.8 syntax; standard library, numpy, OpenCV.
"""

import json
import os
import queue
import re
import subprocess
import threading
import time
from typing import Dict, List, Optional

import cv2
import numpy as np

STATUS_FILE = "status.json"
OVERLAY_FILE = "overlay.jpg"
VERDICT_LOG = "verdicts.jsonl"
NG_DIR = "ng"
REASON_FILE = "reason.txt"
OVERLAY_WIDTH = 480


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary sibling and rename it over `path`: readers see the old file or the new, never half."""
    temporary = "{}.{}.tmp".format(path, os.getpid())
    with open(temporary, "wb") as stream:
        stream.write(data)
    os.replace(temporary, path)


def write_reason(state_dir: str, text: str) -> None:
    write_atomically(os.path.join(state_dir, REASON_FILE),
                     "{} {}\n".format(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), text).encode())


class VerdictLog:
    """Append-only JSON lines; past `max_bytes` the file becomes .1 (the older ones shift up, `keep` are kept)."""

    def __init__(self, path: str, max_bytes: int, keep: int = 3) -> None:
        self.path, self.max_bytes, self.keep = path, max_bytes, keep
        self._stream = open(path, "a")

    def write(self, record: Dict[str, object]) -> None:
        self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._stream.flush()
        if self._stream.tell() >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._stream.close()
        for index in range(self.keep - 1, 0, -1):
            older = "{}.{}".format(self.path, index)
            if os.path.exists(older):
                os.replace(older, "{}.{}".format(self.path, index + 1))
        os.replace(self.path, self.path + ".1")
        self._stream = open(self.path, "a")

    def close(self) -> None:
        self._stream.close()


class NgFolder:
    """NG frames as PNG files; the oldest are deleted once the folder holds more than `max_bytes`.

    `submit` hands a frame to a writer thread (encoding a PNG takes longer than inferring on a Jetson, and the
    loop must not wait for it); at most `pending` frames wait, beyond that they are counted in `dropped`.
    """

    def __init__(self, folder: str, max_bytes: int, pending: int = 4) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        os.makedirs(folder, exist_ok=True)
        self._files = sorted((entry.name, entry.stat().st_size) for entry in os.scandir(folder)
                             if entry.is_file() and entry.name.endswith(".png"))
        self._total = sum(size for _, size in self._files)
        self._lock = threading.Lock()
        self.dropped = 0
        self.last_error = ""
        self._queue = queue.Queue(maxsize=pending)  # type: queue.Queue
        self._thread = threading.Thread(target=self._drain, name="ng-writer", daemon=True)
        self._thread.start()

    def submit(self, name: str, image_bgr: np.ndarray) -> Optional[str]:
        """Queue a frame for writing; the path it will have, or None when the writer is behind (dropped)."""
        try:
            self._queue.put_nowait((name, image_bgr))
        except queue.Full:
            self.dropped += 1
            return None
        return os.path.join(self.folder, name)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self.save(*item)
            except OSError as error:  # a full disk must not stop the line: the status says so
                self.last_error = str(error)

    def save(self, name: str, image_bgr: np.ndarray) -> str:
        """Write one frame now (the `s` key, and the writer thread)."""
        ok, encoded = cv2.imencode(".png", image_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        if not ok:
            raise OSError("OpenCV could not encode the NG frame")
        data = encoded.tobytes()
        path = os.path.join(self.folder, name)
        write_atomically(path, data)
        with self._lock:
            self._files.append((name, len(data)))
            self._total += len(data)
            while self._total > self.max_bytes and len(self._files) > 1:
                oldest, size = self._files.pop(0)
                try:
                    os.remove(os.path.join(self.folder, oldest))
                except OSError:
                    pass
                self._total -= size
        return path

    def close(self) -> None:
        """Write what is queued, then stop the writer."""
        self._queue.put(None)
        self._thread.join(timeout=30)


def process_rss_mb(pid: Optional[int] = None) -> float:
    """Resident memory of the process from /proc (0 where there is no /proc)."""
    try:
        with open("/proc/{}/status".format(pid or "self")) as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


_TEGRA_RAM = re.compile(r"RAM (\d+)/(\d+)MB")
_TEGRA_GPU = re.compile(r"GR3D_FREQ (\d+)%")


def parse_tegrastats(line: str) -> Dict[str, float]:
    """`RAM 2345/7773MB ... GR3D_FREQ 45%` -> shared RAM used/total (MB) and GPU load (%)."""
    found = {}  # type: Dict[str, float]
    ram = _TEGRA_RAM.search(line)
    if ram:
        found["shared_ram_used_mb"], found["shared_ram_total_mb"] = float(ram.group(1)), float(ram.group(2))
    gpu = _TEGRA_GPU.search(line)
    if gpu:
        found["gpu_load_percent"] = float(gpu.group(1))
    return found


class MemoryProbe:
    """The newest memory figures: tegrastats' last line (read on a thread), jtop, and the process RSS."""

    def __init__(self) -> None:
        self.source = "process RSS"
        self._latest = {}  # type: Dict[str, float]
        self._process = None  # type: Optional[subprocess.Popen]
        self._jtop = None
        try:
            self._process = subprocess.Popen(["tegrastats", "--interval", "1000"], stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, universal_newlines=True)
            self.source = "tegrastats"
            threading.Thread(target=self._read, name="tegrastats", daemon=True).start()
        except OSError:
            self._jtop = _open_jtop()
            if self._jtop is not None:
                self.source = "jtop"

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._latest = parse_tegrastats(line)

    def read(self) -> Dict[str, float]:
        figures = dict(self._latest)
        if self._jtop is not None:
            try:
                ram = self._jtop.memory["RAM"]
                figures["shared_ram_used_mb"] = ram["used"] / 1024.0
                figures["shared_ram_total_mb"] = ram["tot"] / 1024.0
            except Exception:  # noqa: BLE001 - jtop's layout changes between versions; RSS still stands
                pass
        figures["process_rss_mb"] = round(process_rss_mb(), 1)
        return figures

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
        if self._jtop is not None:
            self._jtop.close()


def _open_jtop():  # noqa: ANN202 - a jtop object, or None
    try:
        from jtop import jtop  # noqa: PLC0415 - jetson-stats, when installed
    except ImportError:
        return None
    try:
        handle = jtop()
        handle.start()
        return handle
    except Exception:  # noqa: BLE001 - the jtop service may not run
        return None


def memory_lines(figures: Dict[str, float]) -> List[str]:
    lines = ["process RSS {:.0f} MB".format(figures.get("process_rss_mb", 0.0))]
    if "shared_ram_used_mb" in figures:
        lines.append("shared RAM {:.0f} / {:.0f} MB".format(figures["shared_ram_used_mb"],
                                                            figures.get("shared_ram_total_mb", 0.0)))
    if "gpu_load_percent" in figures:
        lines.append("GPU load {:.0f} %".format(figures["gpu_load_percent"]))
    return lines


class StatusWriter:
    """status.json and overlay.jpg, rewritten at most `per_second` times a second (and on `force`)."""

    def __init__(self, state_dir: str, per_second: float = 4.0) -> None:
        self.state_dir = state_dir
        self._period = 1.0 / per_second
        self._last = 0.0

    def due(self) -> bool:
        return time.monotonic() - self._last >= self._period

    def write(self, status: Dict[str, object], canvas_bgr: Optional[np.ndarray] = None) -> None:
        self._last = time.monotonic()
        status = dict(status, written_at=time.time())
        if canvas_bgr is not None:
            height, width = canvas_bgr.shape[:2]
            small = cv2.resize(canvas_bgr, (OVERLAY_WIDTH, max(1, height * OVERLAY_WIDTH // width)),
                               interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                write_atomically(os.path.join(self.state_dir, OVERLAY_FILE), encoded.tobytes())
        write_atomically(os.path.join(self.state_dir, STATUS_FILE), json.dumps(status, indent=1).encode())
