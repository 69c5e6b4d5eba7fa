"""The window killed (kill -9) while inspecting: its settings, the NG frames saved so far and the last model are
intact, and the next start carries on where the last one stopped (NG saving still on, same folder, same model).

The real window runs in a subprocess, off screen, exactly as `python -m app` starts it (tests/app/window_operator.py
adds an operator who switches NG saving on and keeps moving the opacity slider), with HOME and the XDG folders in a
temporary directory so that the user's own settings are never read or touched. It is killed three times:

1. while inspecting with NG saving on, just after a setting changed;
2. the instant a new NG frame's file appears in the save folder (a writer that is not atomic is caught in the middle
   of its PNG here);
3. during start-up, at the operator's first move a fraction of a second after the window appears.

After each kill: the settings file parses and holds what was set (the opacity one of the last values the operator
chose), every NG frame in the folder decodes to the end, the frames saved before are unchanged, and the last model
loads and verifies.
"""

from __future__ import annotations

import hashlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from app.settings import APPLICATION, ORGANISATION
from core.data.demo import DEMO_VERSION, ensure_demo_dataset
from core.demo_model import SHIPPED_DEMO_MODEL
from core.runtime import open_runtime

REPOSITORY = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 120  # start-up on a loaded 2-core machine: imports, the fork server, the model, the first frame
RECENT_VALUES = 3  # the file may lag the slider by an event-loop pass or two, not more


@dataclass
class Station:
    """One temporary HOME for the window, kept across its restarts."""

    root: Path
    said: list[str] = field(default_factory=list)  # every 'set' line, all runs in order

    @property
    def ng_folder(self) -> Path:
        return self.root / "ng"

    @property
    def settings_file(self) -> Path:
        return self.root / "config" / ORGANISATION / f"{APPLICATION}.conf"

    def environment(self) -> dict[str, str]:
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("XDG_", "QT_"))}
        environment.update(HOME=str(self.root / "home"), XDG_CONFIG_HOME=str(self.root / "config"),
                           XDG_CACHE_HOME=str(self.root / "cache"), QT_QPA_PLATFORM="offscreen",
                           PYTHONPATH=str(REPOSITORY), PYTHONUNBUFFERED="1")
        return environment


class RunningWindow:
    """The operated window in its own process group; its lines arrive on a queue (read on a thread)."""

    def __init__(self, station: Station, *arguments: str) -> None:
        self.station = station
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.app.window_operator", *arguments], cwd=REPOSITORY,
            env=station.environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip())
            self.lines.put(line.rstrip())

    def next_line(self, timeout: float) -> str | None:
        """The window's next line (None if none came in time); the values it set are noted on the way."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line.startswith("set "):
            self.station.said.append(line.split()[-1])
        return line

    def wait_for_line(self, wanted: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the window exited ({self.process.returncode}): {self.log()}"
            line = self.next_line(timeout=0.5)
            if line is not None and wanted(line):
                return line
        pytest.fail(f"no {what} within {STARTUP_SECONDS} s: {self.log()}")

    def kill(self) -> None:
        """kill -9 of the window's process, as the OS or an operator would; then whatever it left in its group."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the group is the session this test started
        except ProcessLookupError:
            pass
        while self.next_line(timeout=0.2) is not None:  # the lines it wrote before dying still count
            pass

    def log(self) -> str:
        return "\n".join(self.output[-30:])


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    # The demo images are only read; the user's cached copy (made once, atomically, as the window would) serves.
    demo = ensure_demo_dataset()[0].parent
    cache = tmp_path / "cache" / "inspection-station"
    cache.mkdir(parents=True)
    (cache / f"demo-v{DEMO_VERSION}").symlink_to(demo)
    (tmp_path / "home").mkdir()
    yield Station(tmp_path)


def _frame_names(folder: Path) -> set[str]:
    """NG frames in the folder; a writer's hidden temporary file is not one."""
    return {name for name in os.listdir(folder) if not name.startswith(".")} if folder.is_dir() else set()


def _frames(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in sorted(_frame_names(folder))}


def _check_intact(station: Station, frames_before: dict[str, str]) -> dict[str, str]:
    """Settings, NG frames and model after a kill; returns the frames now in the folder."""
    settings = QSettings(str(station.settings_file), QSettings.Format.IniFormat)
    assert settings.status() == QSettings.Status.NoError, station.settings_file.read_text()
    assert settings.value("inspect/save_folder") == str(station.ng_folder)
    assert str(settings.value("inspect/save_ng")).lower() == "true"
    assert settings.value("inspect/source_kind") == "demo"
    opacity = str(settings.value("inspect/opacity"))
    assert opacity in station.said[-RECENT_VALUES:], (opacity, station.said[-RECENT_VALUES:])

    frames = _frames(station.ng_folder)
    broken = []
    for name in frames:
        try:
            with Image.open(station.ng_folder / name) as image:
                image.load()  # decodes to the last byte: a truncated PNG raises
        except OSError as error:
            broken.append(f"{name}: {error}")
    assert not broken, f"NG frames cut short by the kill: {broken}"
    assert {name: frames.get(name) for name in frames_before} == frames_before  # saved before: untouched

    last = Path(str(settings.value("model/last")))
    assert last == SHIPPED_DEMO_MODEL.absolute()
    assert open_runtime(last, "onnxruntime").model_dir == last  # loads, every file's hash verified
    return frames


def test_kill_9_while_inspecting_leaves_settings_ng_frames_and_model_intact(station: Station) -> None:
    # 1. NG saving switched on by the operator; killed just after a setting changed.
    window = RunningWindow(station, "--save-ng-to", str(station.ng_folder))
    window.wait_for_line(lambda line: line == "inspecting", "inspection")
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _frame_names(station.ng_folder) and time.monotonic() < deadline:
        window.wait_for_line(lambda line: line.startswith("set "), "slider move")
    window.wait_for_line(lambda line: line.startswith("set "), "slider move")
    window.kill()
    frames = _check_intact(station, {})
    assert frames, f"no NG frame was saved: {window.log()}"

    # 2. Restarted without the operator's help: NG saving comes back from the settings. Killed the instant a new
    #    NG frame's file shows in the folder.
    window = RunningWindow(station)
    deadline = time.monotonic() + STARTUP_SECONDS
    while _frame_names(station.ng_folder) <= set(frames):
        assert time.monotonic() < deadline and window.process.poll() is None, f"no new NG frame: {window.log()}"
        time.sleep(0.001)
    window.kill()
    frames = _check_intact(station, frames)

    # 3. Killed during start-up, at the operator's first move (0.2 s after the event loop starts).
    window = RunningWindow(station)
    window.wait_for_line(lambda line: line.startswith("set "), "slider move")
    window.kill()
    _check_intact(station, frames)
