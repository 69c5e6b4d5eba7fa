"""The window as `python -m app` starts it, with an operator at it: the kill -9 test runs this in a subprocess.

    python -m tests.app.window_operator [--save-ng-to DIR] [--change-every SECONDS]

Exactly `app.__main__.main([])` (last model or the demo model, inspection of the demo images at once), plus a timer
that works the real widgets as an operator would: with --save-ng-to it chooses that folder and ticks "save NG
frames"; then it moves the overlay opacity slider every --change-every seconds, so that a setting is being written
whenever the test kills the process. It prints one line per event, flushed, for the test to follow:

    inspecting            the live worker runs
    save-ng DIR           NG saving switched on, to DIR
    set inspect/opacity V the slider moved: the window has just been told to remember V
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import app.__main__ as entry

OPACITY_STEPS = range(10, 100)  # percent: 90 different values in turn, so a file holding an old one is seen


def _say(line: str) -> None:
    print(line, flush=True)


class Operator:
    def __init__(self, save_ng_to: Path | None, change_every: float) -> None:
        self.save_ng_to = save_ng_to
        self.steps = itertools.cycle(OPACITY_STEPS)
        self.window = None
        self.inspecting = False
        self.timer = QTimer()
        self.timer.setInterval(int(change_every * 1000))
        self.timer.timeout.connect(self.tick)
        QTimer.singleShot(0, self.arrive)

    def arrive(self) -> None:
        from app.main_window import MainWindow

        self.window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        controls = self.window.inspect_page.overlay_controls
        if self.save_ng_to is not None:
            controls.set_save_folder(self.save_ng_to)
            controls.save_ng.setChecked(True)
            _say(f"save-ng {self.save_ng_to}")
        self.timer.start()

    def tick(self) -> None:
        page = self.window.inspect_page
        if page.running and not self.inspecting:
            self.inspecting = True
            _say("inspecting")
        value = next(self.steps)
        page.overlay_controls.opacity.setValue(value)
        _say(f"set inspect/opacity {value / 100}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.app.window_operator")
    parser.add_argument("--save-ng-to", type=Path, default=None)
    parser.add_argument("--change-every", type=float, default=0.2)
    args = parser.parse_args(argv)
    QApplication(sys.argv[:1])  # app.__main__.main uses this one
    operator = Operator(args.save_ng_to, args.change_every)  # noqa: F841 - lives as long as the event loop
    return entry.main([])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
