"""Helpers for scripted runs of the real window (`--screenshots`, `app.soak`): render off screen where there is no
display, use throw-away settings, and wait for a condition with the Qt event loop running."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QSettings, QTimer

from app.settings import AppSettings

_CHECK_MS = 50


def use_offscreen_without_display() -> None:
    """On a machine without a display, render off screen (call before the QApplication is made)."""
    if not (os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def scratch_settings(purpose: str) -> AppSettings:
    """Throw-away settings in a new temporary folder, so that a scripted run leaves the user's alone."""
    scratch = Path(tempfile.mkdtemp(prefix=f"inspection-station-{purpose}-"))
    settings = AppSettings(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value("train/models_folder", str(scratch / "models"))
    settings.set_value("audit/db", str(scratch / "audit.sqlite"))  # its verdicts are not the station's
    settings.set_value("audit/frame_cap_mb", 200)  # an hours-long soak must not fill /tmp with NG frames
    return settings


def wait_until(condition: Callable[[], bool], timeout: float | None, what: str) -> None:
    """Run the Qt event loop until `condition()` holds (checked every 50 ms); TimeoutError naming `what` after
    `timeout` seconds (None: no limit).

    A real event loop, not `processEvents()` in a sleep loop: events are handled the moment they arrive, as under
    `exec()`, and objects released with `deleteLater()` are really deleted, which a long scripted run needs.
    """
    if condition():
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(_CHECK_MS)

    def check() -> None:
        if condition() or (deadline is not None and time.monotonic() > deadline):
            loop.quit()

    timer.timeout.connect(check)
    timer.start()
    loop.exec()
    timer.stop()
    if not condition():
        raise TimeoutError(f"gave up waiting for {what} after {timeout:g} s")


def close_window(window: Any) -> None:
    """End a scripted run's `MainWindow`: stop every worker (waiting a few seconds at most), close, release."""
    window.shutdown()
    window.close()
    window.deleteLater()
