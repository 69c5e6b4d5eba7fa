"""What the window remembers comes back as it was: yes/no values read from the INI file as booleans, and the Inspect
page's "save NG frames" switch, folder and look restored by a new window (after a crash as after a normal exit)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from app.pages.inspect_page import InspectPage
from app.settings import AppSettings


def _reopened(settings: AppSettings) -> AppSettings:
    """The same file read by a new QSettings, as the next start of the window reads it."""
    settings.store.sync()
    return AppSettings(QSettings(settings.store.fileName(), QSettings.Format.IniFormat))


def test_flags_come_back_as_booleans_from_the_file(settings: AppSettings) -> None:
    settings.set_value("a/on", True)
    settings.set_value("a/off", False)
    again = _reopened(settings)
    assert "off=false" in Path(again.store.fileName()).read_text()  # text: bool("false") would say True
    assert again.flag("a/on") is True and again.flag("a/off") is False
    assert again.flag("a/missing") is False and again.flag("a/missing", default=True) is True


def test_a_new_window_keeps_saving_ng_frames_where_the_last_one_did(qtbot, settings: AppSettings,
                                                                    tmp_path: Path) -> None:
    page = InspectPage(settings)
    qtbot.addWidget(page)
    folder = tmp_path / "ng frames"
    page.overlay_controls.set_save_folder(folder)
    page.overlay_controls.save_ng.setChecked(True)
    page.overlay_controls.opacity.setValue(37)
    assert page.live_settings.save_ng_to == folder

    again = InspectPage(_reopened(settings))
    qtbot.addWidget(again)
    assert again.overlay_controls.save_ng.isChecked() and again.live_settings.save_ng_to == folder
    assert again.overlay_controls.opacity.value() == 37

    again.overlay_controls.save_ng.setChecked(False)  # switched off stays off
    third = InspectPage(_reopened(again.settings))
    qtbot.addWidget(third)
    assert not third.overlay_controls.save_ng.isChecked() and third.live_settings.save_ng_to is None
