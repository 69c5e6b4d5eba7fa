"""The Save-frame key (S) writes the frame on screen atomically: onto a full disk it says so in the banner, naming the
file, and leaves no half-written PNG; a save folder it cannot make is reported the same way, without a traceback.

The full disk is a real tmpfs, as in tests/core/faults/test_disk_full.py (skipped where the sandbox cannot mount).
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import Qt

from app.main_window import MainWindow
from core.sources import LiveSettings, inspect_frame
from core.sources.base import Frame
from tests.core.faults.faults_testkit import tmpfs


def _show_noise(window: MainWindow, size: int) -> np.ndarray:
    """Put a frame of noise on screen as if it had just been inspected (noise barely compresses: a big PNG)."""
    page = window.inspect_page
    noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    settings = LiveSettings.for_runtime(page.runtime)
    page.last_result = inspect_frame(page.runtime, Frame(noise, 7, "cam #7"), settings, 7)
    return noise


def test_the_saved_frame_is_the_one_on_screen_and_no_temporary_is_left(qtbot, window: MainWindow,
                                                                       tmp_path: Path) -> None:
    _show_noise(window, 96)
    qtbot.keyClick(window, Qt.Key.Key_S)  # the Save-frame shortcut
    [saved] = os.listdir(tmp_path / "saved")
    assert saved.endswith("_000007_OK.png") or saved.endswith("_000007_NG.png")
    assert cv2.imread(str(tmp_path / "saved" / saved)).shape == (96, 96, 3)
    assert window.inspect_page.source_state.text() == f"saved {tmp_path / 'saved' / saved}"


def test_saving_onto_a_full_disk_says_so_and_leaves_no_half_png(window: MainWindow, tmp_path: Path) -> None:
    page = window.inspect_page
    _show_noise(window, 512)  # ~800 kB as PNG
    with tmpfs(tmp_path / "disk", 256 * 1024) as disk:
        page.overlay_controls.set_save_folder(disk)
        assert page.save_current() is None
        left = os.listdir(disk)
    assert left == []  # neither a half PNG nor a temporary
    message = page.banner.text()
    assert message.startswith(f"{disk}/") and "_000007_" in message and "no space left on device" in message


def test_a_save_folder_that_cannot_be_made_is_reported(window: MainWindow, tmp_path: Path) -> None:
    page = window.inspect_page
    _show_noise(window, 32)
    (tmp_path / "a-file").write_text("not a folder")
    folder = tmp_path / "a-file" / "saved"
    page.overlay_controls.set_save_folder(folder)
    assert page.save_current() is None  # raised NotADirectoryError out of the key's slot before
    assert page.banner.text().startswith(f"{folder}/") and page.banner.text().endswith("(Not a directory)")
