"""The source picker names sources as jetson-utils URIs and opens them through the engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_testkit import striped, write_video
from PIL import Image

from app.widgets.source_picker import CAMERA, DEMO, FOLDER, IMAGES, VIDEO, QtSourcePicker
from core.errors import InputError
from core.sources.camera import CameraSource
from core.sources.files import ImageFilesSource
from core.sources.folder import FolderSource


@pytest.fixture
def picker(qtbot) -> QtSourcePicker:
    widget = QtSourcePicker()
    qtbot.addWidget(widget)
    return widget


def test_uris_land_under_the_kind_they_name(picker: QtSourcePicker, tmp_path: Path) -> None:
    video = write_video(tmp_path / "line.avi", frames=2)
    image = tmp_path / "part.png"
    Image.fromarray(striped(np.random.default_rng(0))).save(image)
    cases = [("demo://", DEMO), ("csi://0", CAMERA), ("v4l2:///dev/video0", CAMERA), ("rtsp://host:554/x", CAMERA),
             ("0", CAMERA), (f"file://{video}", VIDEO), (f"file://{tmp_path}/", FOLDER), (str(image), IMAGES)]
    for uri, kind in cases:
        picker.set_uri(uri)
        assert picker.current_kind() == kind, uri
    assert picker.include_existing.isChecked() is False  # last case was an image; folders set it


def test_the_picker_opens_engine_sources(picker: QtSourcePicker, tmp_path: Path) -> None:
    picker.set_uri(f"file://{tmp_path}/")
    folder = picker.make_source()
    assert isinstance(folder, FolderSource)
    folder.release()
    picker.set_source(CAMERA, "v4l2:///dev/video0")
    assert isinstance(picker.make_source(), CameraSource)
    image = tmp_path / "part.png"
    Image.fromarray(striped(np.random.default_rng(0))).save(image)
    picker.set_images([image, image])
    source = picker.make_source()
    assert isinstance(source, ImageFilesSource) and source.step and len(source.paths) == 2
    picker.set_source(CAMERA, "")
    with pytest.raises(InputError, match="enter 0 first"):
        picker.make_source()
    picker.set_source(IMAGES, str(tmp_path / "gone.png"))
    with pytest.raises(InputError, match="gone.png: no such image file"):
        picker.make_source()
