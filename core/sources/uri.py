"""Name a source with one string, as jetson-utils does, in the window and on the command line.

| string                                  | source                                                   |
|-----------------------------------------|----------------------------------------------------------|
| `csi://0`                               | MIPI CSI camera 0 on a Jetson (GStreamer nvarguscamerasrc) |
| `v4l2:///dev/video0`                    | V4L2 (USB) camera by device path                          |
| `0`, `1`, ...                           | camera by OpenCV index                                    |
| `rtsp://host:port/path`, `http(s)://`   | network stream (FFmpeg)                                   |
| `... ! appsink` (has ` ! `)             | GStreamer pipeline string, as used on a Jetson            |
| `file://video.mp4`, `video.mp4`         | video file                                                |
| `file://folder/`, `folder/`             | folder: images already there, then new ones as they arrive |
| `file://image.png`, `image.png`         | one image                                                 |
| `demo://`                               | the demo data set's test images, looping                  |
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import urlsplit

import cv2

from core.data.images import IMAGE_SUFFIXES, read_image_hw
from core.errors import InputError
from core.sources.base import FrameSource
from core.sources.camera import CameraSource
from core.sources.files import ImageFilesSource
from core.sources.folder import FolderSource
from core.sources.video import VIDEO_SUFFIXES, VideoFileSource

DEMO_URI = "demo://"
DEMO_INTERVAL_SECONDS = 0.5  # slow enough to read each verdict, fast enough to look live
_NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://")


def csi_pipeline(sensor: int, width: int = 1280, height: int = 720, fps: int = 30) -> str:
    """The GStreamer pipeline jetson-utils uses for a CSI camera, ending in an OpenCV appsink (BGR)."""
    return (
        f"nvarguscamerasrc sensor-id={sensor} ! video/x-raw(memory:NVMM), width={width}, height={height}, "
        f"framerate={fps}/1, format=NV12 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! "
        "video/x-raw, format=BGR ! appsink drop=true max-buffers=1"
    )


def open_source(uri: str, pace_video: bool = True, open_timeout: float | None = None) -> FrameSource:
    """Open the source named by `uri` (see the table above). `pace_video=False` reads video files as fast as they
    decode and inspects every frame (benchmarks); by default they play at their own frame rate, like a camera.

    Raises `InputError` for a file or folder that does not exist or cannot be read; cameras are not opened here
    but on the first read, where failures are retried with back-off: for ever (`open_timeout=None`, the window),
    or until `open_timeout` seconds have passed without a frame, when the first read raises `InputError`.
    """
    text = uri.strip()
    if not text:
        raise InputError("no source given: name a camera, a video file, a folder or an image")
    if text == DEMO_URI:
        return demo_source()
    if text.startswith("csi://"):
        sensor = _integer(text[len("csi://"):], text)
        return CameraSource(csi_pipeline(sensor), cv2.CAP_GSTREAMER, f"CSI camera {sensor}", open_timeout)
    if text.startswith("v4l2://"):
        device = text[len("v4l2://"):]
        number = re.fullmatch(r"(?:/dev/video)?(\d+)", device)
        # OpenCV's V4L2 backend opens by index only ("can't be used to capture by name"), so /dev/videoN -> N.
        target: int | str = int(number.group(1)) if number else device
        return CameraSource(target, cv2.CAP_V4L2, f"V4L2 camera {device}", open_timeout)
    if text.startswith(_NETWORK_SCHEMES):
        _check_address(text)
        return CameraSource(text, cv2.CAP_FFMPEG, f"stream {text}", open_timeout)
    if " ! " in text:
        return CameraSource(text, cv2.CAP_GSTREAMER, "GStreamer pipeline", open_timeout)
    if text.isdigit():
        return CameraSource(int(text), cv2.CAP_ANY, f"camera {text}", open_timeout)
    if "://" in text and not text.startswith("file://"):
        raise InputError(f"{text}: unknown kind of source (use csi://, v4l2://, rtsp://, file:// or a path)")
    location = text[len("file://"):] if text.startswith("file://") else text
    if location.endswith("/") and not Path(location).is_dir():  # the user means a folder
        raise InputError(f"{location}: " + ("is a file, not a folder" if Path(location.rstrip("/")).is_file()
                                            else "no such folder"))
    return open_path(Path(location), pace_video)


def open_path(path: Path, pace_video: bool = True) -> FrameSource:
    """A folder, a video file or an image file, told apart by what is on disk and by the suffix."""
    if path.is_dir():
        return FolderSource(path, include_existing=True)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        read_image_hw(path)  # a text file named .png fails here, with its reason, rather than as a skipped frame
        return ImageFilesSource([path], description=path.name)
    if suffix in VIDEO_SUFFIXES or not suffix:
        return VideoFileSource(path, pace=pace_video)
    raise InputError(f"{path}: not a video ({', '.join(sorted(VIDEO_SUFFIXES))}) "
                     f"or an image ({', '.join(sorted(IMAGE_SUFFIXES))})")


def demo_source(interval: float = DEMO_INTERVAL_SECONDS) -> ImageFilesSource:
    """The demo data set's test images (good and defective of every category, interleaved), looping.

    The data set is generated on first use (seconds); that happens on the capture thread, not in the caller.
    """
    return ImageFilesSource([], loop=True, interval=interval, description="demo images", find_paths=demo_image_paths)


def demo_image_paths() -> list[Path]:
    """Every demo test image, categories interleaved so that the view changes product at every frame."""
    from core.data.dataset import discover_categories
    from core.data.demo import ensure_demo_dataset

    categories = discover_categories(ensure_demo_dataset())
    shuffler = random.Random(0)  # a fixed order, so that two runs of the demo show the same sequence
    per_category = [shuffler.sample([sample.path for sample in category.test], len(category.test))
                    for category in categories]
    return [path for row in _zip_longest(per_category) for path in row]


def _zip_longest(lists: list[list[Path]]) -> list[list[Path]]:
    longest = max((len(items) for items in lists), default=0)
    return [[items[index] for items in lists if index < len(items)] for index in range(longest)]


def _check_address(url: str) -> None:
    """Refuse a stream address that no retrying can fix (no host, a port that is not a number)."""
    parts = urlsplit(url)
    try:
        parts.port
    except ValueError:
        raise InputError(f"{url}: the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise InputError(f"{url}: no host in the address (e.g. rtsp://192.168.1.20:8554/line)")


def _integer(text: str, uri: str) -> int:
    if not text.isdigit():
        raise InputError(f"{uri}: expected a number after the scheme, e.g. csi://0")
    return int(text)
