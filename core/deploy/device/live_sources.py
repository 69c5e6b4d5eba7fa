"""Frame sources of live.py, named as jetson-utils names them, read on a capture thread that keeps the newest frame.

    csi://0                 MIPI CSI camera (jetson-utils videoSource, else GStreamer nvarguscamerasrc via OpenCV)
    v4l2:///dev/video0      USB camera (jetson-utils, else OpenCV's V4L2 backend)
    rtsp://host:port/path   network stream (jetson-utils, else a GStreamer rtspsrc pipeline, else FFmpeg)
    file://video.mp4        video file, played at its own frame rate like a camera (--loop repeats it)
    file://folder/          images in a folder, in name order, then new ones as they arrive

A camera delivers frames whatever inspection does, so the capture thread overwrites a one-frame slot and counts
what it overwrote as dropped: latency never grows. A folder is not live: every image is inspected.
Frames are H x W x 3 uint8 RGB. Python 3.8 syntax; numpy and OpenCV (jetson-utils when installed).
"""

import glob
import os
import threading
import time
from typing import List, Optional, Tuple

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpg", ".mjpeg")
_FOLDER_POLL_SECONDS = 0.2
_RETRY_SECONDS = 2.0


class SourceProblem(Exception):
    """The source cannot be opened or read; the message names it and says why."""


Grab = Tuple[np.ndarray, str]  # an RGB frame and its name (file path, or "frame N")


def csi_pipeline(sensor: int, width: int = 1280, height: int = 720, fps: int = 30) -> str:
    return ("nvarguscamerasrc sensor-id={} ! video/x-raw(memory:NVMM), width={}, height={}, framerate={}/1, "
            "format=NV12 ! nvvidconv ! video/x-raw, format=BGRx ! videoconvert ! video/x-raw, format=BGR ! "
            "appsink drop=true max-buffers=1".format(sensor, width, height, fps))


def rtsp_pipeline(url: str) -> str:
    return ("rtspsrc location={} latency=200 ! decodebin ! videoconvert ! video/x-raw, format=BGR ! "
            "appsink drop=true max-buffers=1".format(url))


def has_gstreamer() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if "GStreamer:" in line:
            return "YES" in line
    return False


class Source:
    """`grab()` -> (RGB frame, name), or None when the source has ended. `live`: frames come at their own pace."""

    live = True
    description = ""

    def pace(self) -> None:
        """Wait until the next frame is due (a video played like a camera); not counted as capture time."""

    def grab(self) -> Optional[Grab]:
        raise NotImplementedError

    def close(self) -> None:
        pass


class OpenCvSource(Source):
    """A camera, stream or video through cv2.VideoCapture; `pace` plays a file at its frame rate."""

    def __init__(self, target: object, api: int, description: str, pace: bool = False, loop: bool = False,
                 camera: bool = True) -> None:
        self.description = description
        self._target, self._api, self._pace, self._loop, self._camera = target, api, pace, loop, camera
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS) or 0.0
        self._period = 1.0 / fps if pace and 0 < fps < 1000 else 0.0
        self._next = time.perf_counter()
        self._count = 0

    def _open(self) -> "cv2.VideoCapture":
        capture = cv2.VideoCapture(self._target, self._api)
        if not capture.isOpened():
            raise SourceProblem("{}: cannot be opened by OpenCV".format(self.description))
        return capture

    def pace(self) -> None:
        if self._period:
            delay = self._next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self._next = max(self._next + self._period, time.perf_counter() - self._period)

    def grab(self) -> Optional[Grab]:
        ok, image = self._capture.read()
        if not ok and self._loop and not self._camera:
            self._capture.release()
            self._capture = self._open()
            ok, image = self._capture.read()
        while not ok and self._camera:  # a camera that drops out comes back: reopen it, as a service should
            time.sleep(_RETRY_SECONDS)
            self._capture.release()
            try:
                self._capture = self._open()
            except SourceProblem:
                continue
            ok, image = self._capture.read()
        if not ok:
            return None
        self._count += 1
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), "frame {}".format(self._count)

    def close(self) -> None:
        self._capture.release()


class JetsonUtilsSource(Source):
    """jetson-utils' videoSource (hardware decoding and the CSI camera, as NVIDIA's examples use)."""

    def __init__(self, uri: str) -> None:
        import jetson_utils  # noqa: PLC0415 - only on a Jetson with jetson-utils

        self.description = "{} (jetson-utils)".format(uri)
        self._utils = jetson_utils
        self._source = jetson_utils.videoSource(uri)
        self._count = 0

    def grab(self) -> Optional[Grab]:
        while True:
            image = self._source.Capture(format="rgb8", timeout=1000)
            if image is not None:
                self._count += 1
                self._utils.cudaDeviceSynchronize()
                return np.array(self._utils.cudaToNumpy(image), np.uint8), "frame {}".format(self._count)
            if not self._source.IsStreaming():
                return None

    def close(self) -> None:
        self._source.Close()


class FolderSource(Source):
    """Images of a folder in name order, then new ones as they arrive (not live: none is skipped)."""

    live = False

    def __init__(self, folder: str, loop: bool = False) -> None:
        if not os.path.isdir(folder):
            raise SourceProblem("{}: no such folder".format(folder))
        self.description = "folder {}".format(folder)
        self._folder, self._loop = folder, loop
        self._seen = set()  # type: set
        self._closed = threading.Event()

    def _new_images(self) -> List[str]:
        names = sorted(path for path in glob.glob(os.path.join(self._folder, "**", "*"), recursive=True)
                       if path.lower().endswith(IMAGE_SUFFIXES) and path not in self._seen)
        return names

    def grab(self) -> Optional[Grab]:
        while not self._closed.is_set():
            for path in self._new_images():
                self._seen.add(path)
                image = cv2.imread(path, cv2.IMREAD_COLOR)
                if image is not None:  # a file still being written is read on the next pass
                    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB), path
                self._seen.discard(path)
            if self._loop and self._seen:
                self._seen.clear()
                continue
            time.sleep(_FOLDER_POLL_SECONDS)
        return None

    def close(self) -> None:
        self._closed.set()


def _jetson_utils_available() -> bool:
    try:
        import jetson_utils  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def open_source(uri: str, loop: bool = False, use_jetson_utils: Optional[bool] = None) -> Source:
    """The source named by `uri` (see the module docstring); `SourceProblem` when it cannot be opened."""
    text = uri.strip()
    jetson = _jetson_utils_available() if use_jetson_utils is None else use_jetson_utils
    camera = text.startswith(("csi://", "v4l2://", "rtsp://", "rtsps://"))
    if camera and jetson:
        return JetsonUtilsSource(text)
    if text.startswith("csi://"):
        sensor = text[len("csi://"):]
        if not sensor.isdigit():
            raise SourceProblem("{}: expected a sensor number, e.g. csi://0".format(text))
        _need_gstreamer(text)
        return OpenCvSource(csi_pipeline(int(sensor)), cv2.CAP_GSTREAMER, "CSI camera {}".format(sensor))
    if text.startswith("v4l2://"):
        device = text[len("v4l2://"):]
        number = device[len("/dev/video"):] if device.startswith("/dev/video") else device
        target = int(number) if number.isdigit() else device  # OpenCV's V4L2 backend opens by index
        return OpenCvSource(target, cv2.CAP_V4L2, "V4L2 camera {}".format(device))
    if text.startswith(("rtsp://", "rtsps://")):
        if has_gstreamer():
            return OpenCvSource(rtsp_pipeline(text), cv2.CAP_GSTREAMER, "stream {}".format(text))
        return OpenCvSource(text, cv2.CAP_FFMPEG, "stream {}".format(text))
    if not text.startswith("file://"):
        raise SourceProblem("{}: unknown source (use csi://N, v4l2:///dev/videoN, rtsp://..., file://video.mp4 "
                            "or file://folder/)".format(text))
    path = text[len("file://"):]
    if path.endswith("/") or os.path.isdir(path):
        return FolderSource(path.rstrip("/") or "/", loop=loop)
    if not os.path.isfile(path):
        raise SourceProblem("{}: no such file".format(path))
    if not path.lower().endswith(VIDEO_SUFFIXES):
        raise SourceProblem("{}: not a video ({}); name a folder of images as file://folder/".format(
            path, " ".join(VIDEO_SUFFIXES)))
    return OpenCvSource(path, cv2.CAP_ANY, "video {}".format(os.path.basename(path)), pace=True, loop=loop,
                        camera=False)


def _need_gstreamer(uri: str) -> None:
    if not has_gstreamer():
        raise SourceProblem("{}: this OpenCV has no GStreamer support (JetPack's python3-opencv has it; a pip "
                            "opencv-python does not), and jetson-utils is not installed".format(uri))


class Captured:
    """A frame from the capture thread and how long reading and decoding it took."""

    def __init__(self, image: np.ndarray, name: str, capture_ms: float, index: int) -> None:
        self.image, self.name, self.capture_ms, self.index = image, name, capture_ms, index


class LatestFrame:
    """Reads `source` on a daemon thread into a one-frame slot; `take(timeout)` returns the newest frame.

    For a live source the slot is overwritten (`dropped` counts the overwritten frames); otherwise the thread
    waits until the slot is free. `error` is set when the source failed, `ended` once it ended.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.dropped = 0
        self.error = ""
        self._slot = None  # type: Optional[Captured]
        self._ended = False
        self._stop = threading.Event()
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    @property
    def ended(self) -> bool:
        with self._condition:
            return self._ended and self._slot is None

    def take(self, timeout: float) -> Optional[Captured]:
        with self._condition:
            self._condition.wait_for(lambda: self._slot is not None or self._ended, timeout)
            frame, self._slot = self._slot, None
            self._condition.notify_all()
            return frame

    def _run(self) -> None:
        index = 0
        try:
            while not self._stop.is_set():
                self.source.pace()
                started = time.perf_counter()
                grabbed = self.source.grab()
                if grabbed is None:
                    break
                index += 1
                frame = Captured(grabbed[0], grabbed[1], (time.perf_counter() - started) * 1000, index)
                with self._condition:
                    if not self.source.live:
                        self._condition.wait_for(lambda: self._slot is None or self._stop.is_set())
                    if self._slot is not None:
                        self.dropped += 1
                    self._slot = frame
                    self._condition.notify_all()
        except Exception as error:  # noqa: BLE001 - a source failing is reported, not a thread dying silently
            self.error = "{}: {}: {}".format(self.source.description, type(error).__name__, error)
        finally:
            with self._condition:
                self._ended = True
                self._condition.notify_all()

    def close(self) -> None:
        self._stop.set()
        self.source.close()
        with self._condition:
            self._condition.notify_all()
        self._thread.join(timeout=2.0)
