"""Choose what to inspect: demo images, a camera (index, csi://, v4l2://, RTSP, GStreamer), a video file, a watched
folder or image files. Produces a `core.sources.FrameSource`; every string is also accepted as a jetson-utils URI."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout,
                               QWidget)

from core.data.images import IMAGE_SUFFIXES
from core.deploy.live_feed import SCHEME as JETSON_SCHEME
from core.deploy.live_feed import open_jetson_source
from core.errors import InputError
from core.sources import DEMO_URI, FrameSource, open_source
from core.sources.files import ImageFilesSource
from core.sources.folder import FolderSource
from core.sources.video import VIDEO_SUFFIXES

DEMO, CAMERA, VIDEO, FOLDER, IMAGES, JETSON = "demo", "camera", "video", "folder", "images", "jetson"
KINDS = (
    (DEMO, "Demo images"),
    (CAMERA, "Camera / stream"),
    (VIDEO, "Video file"),
    (FOLDER, "Watched folder"),
    (IMAGES, "Image files (step with N)"),
    (JETSON, "Jetson (inspected on the device)"),
)
_PLACEHOLDERS = {
    DEMO: "the demo data set's test images, looping",
    CAMERA: "0 · csi://0 · v4l2:///dev/video0 · rtsp://host:554/path · a GStreamer pipeline ending in appsink",
    VIDEO: "file://video.mp4 or a path",
    FOLDER: "file://folder/ or a path: new images are inspected as they arrive",
    IMAGES: "image paths separated by ';' (or drop images on the window)",
    JETSON: "jetson://nvidia@jetson.local?key=~/.ssh/id_ed25519 (live inspection running on the device, over SSH)",
}
_PATH_SEPARATOR = ";"


def _strip_file_scheme(text: str) -> str:
    return text[len("file://"):] if text.startswith("file://") else text


class QtSourcePicker(QWidget):
    """Kind, location (typed or browsed) and, for folders, whether images already there are inspected too."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for key, title in KINDS:
            self.kind.addItem(title, key)
        self.location = QLineEdit()
        self.location.setClearButtonEnabled(True)
        self.browse = QPushButton("Browse…")
        self.include_existing = QCheckBox("also inspect images already in the folder")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.kind)
        row.addWidget(self.location, 1)
        row.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.include_existing)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.browse.clicked.connect(self._browse)
        self._kind_changed()

    def current_kind(self) -> str:
        return str(self.kind.currentData())

    def set_source(self, kind: str, location: str = "") -> None:
        index = self.kind.findData(kind)
        if index >= 0:
            self.kind.setCurrentIndex(index)
        self.location.setText(location)

    def set_uri(self, uri: str) -> None:
        """Show a source string (command line, settings) under the kind it names."""
        text = uri.strip()
        path = Path(_strip_file_scheme(text))
        if text == DEMO_URI:
            kind = DEMO
        elif text.startswith(JETSON_SCHEME):
            kind = JETSON
        elif text.startswith("file://") or (path.exists() and "://" not in text):
            kind = FOLDER if path.is_dir() else IMAGES if path.suffix.lower() in IMAGE_SUFFIXES else VIDEO
            self.include_existing.setChecked(kind == FOLDER)  # jetson-utils reads what a folder already holds
        else:
            kind = CAMERA
        self.set_source(kind, "" if kind == DEMO else text)

    def set_images(self, paths: list[Path]) -> None:
        self.set_source(IMAGES, _PATH_SEPARATOR.join(str(path) for path in paths))

    def make_source(self) -> FrameSource:
        """Open the chosen source; raises `InputError` with a message for the operator when it cannot be."""
        kind, text = self.current_kind(), self.location.text().strip()
        if kind == DEMO:
            return open_source(DEMO_URI)
        if not text:
            raise InputError(f"{self.kind.currentText()}: enter {_PLACEHOLDERS[kind].split(' · ')[0]} first")
        if kind == FOLDER:
            return FolderSource(Path(_strip_file_scheme(text)), include_existing=self.include_existing.isChecked())
        if kind == IMAGES:
            paths = [Path(_strip_file_scheme(part.strip())) for part in text.split(_PATH_SEPARATOR) if part.strip()]
            missing = [str(path) for path in paths if not path.is_file()]
            if missing:
                raise InputError(f"{missing[0]}: no such image file")
            return ImageFilesSource(paths, step=True, keep_open=True, description=f"{len(paths)} image(s)")
        if kind == JETSON or text.startswith(JETSON_SCHEME):
            return open_jetson_source(text if text.startswith(JETSON_SCHEME) else JETSON_SCHEME + text)
        return open_source(text, pace_video=True)

    def _kind_changed(self) -> None:
        kind = self.current_kind()
        self.location.setPlaceholderText(_PLACEHOLDERS[kind])
        self.location.setEnabled(kind != DEMO)
        self.browse.setEnabled(kind in (VIDEO, FOLDER, IMAGES))
        self.include_existing.setVisible(kind == FOLDER)
        self.changed.emit()

    def _browse(self) -> None:
        kind = self.current_kind()
        if kind == FOLDER:
            folder = QFileDialog.getExistingDirectory(self, "Folder to watch")
            if folder:
                self.location.setText(folder)
        elif kind == VIDEO:
            pattern = " ".join(f"*{suffix}" for suffix in sorted(VIDEO_SUFFIXES))
            path, _ = QFileDialog.getOpenFileName(self, "Video file", "", f"Videos ({pattern});;All files (*)")
            if path:
                self.location.setText(path)
        elif kind == IMAGES:
            pattern = " ".join(f"*{suffix}" for suffix in sorted(IMAGE_SUFFIXES))
            paths, _ = QFileDialog.getOpenFileNames(self, "Images", "", f"Images ({pattern});;All files (*)")
            if paths:
                self.set_images([Path(path) for path in paths])
