"""Frame sources: naming them by URI, video files, cameras that fail and are retried, image lists, watched folders."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from sources_testkit import striped_image, write_video
from PIL import Image

from core.errors import InputError
from core.sources import LatestFrameReader, open_source
from core.sources.base import ENDED, NOTICE, RETRYING, FrameSource
from core.sources.camera import CameraSource, backoff_delay
from core.sources.files import ImageFilesSource
from core.sources.folder import FolderSource
from core.sources.uri import csi_pipeline
from core.sources.video import VideoFileSource


def test_uris_name_the_sources_jetson_users_know(tmp_path: Path, video_file: Path) -> None:
    csi = open_source("csi://1")
    assert isinstance(csi, CameraSource) and csi.api == cv2.CAP_GSTREAMER and csi.target == csi_pipeline(1)
    assert "sensor-id=1" in csi.target and csi.target.endswith("appsink drop=true max-buffers=1")
    v4l2 = open_source("v4l2:///dev/video2")
    assert isinstance(v4l2, CameraSource) and (v4l2.target, v4l2.api) == (2, cv2.CAP_V4L2)
    rtsp = open_source("rtsp://10.0.0.5:8554/line")
    assert isinstance(rtsp, CameraSource) and (rtsp.target, rtsp.api) == ("rtsp://10.0.0.5:8554/line", cv2.CAP_FFMPEG)
    index = open_source("0")
    assert isinstance(index, CameraSource) and index.target == 0
    pipeline = "v4l2src device=/dev/video0 ! videoconvert ! appsink"
    gst = open_source(pipeline)
    assert isinstance(gst, CameraSource) and (gst.target, gst.api) == (pipeline, cv2.CAP_GSTREAMER)
    assert all(source.live for source in (csi, v4l2, rtsp, index, gst))

    video = open_source(f"file://{video_file}")
    assert isinstance(video, VideoFileSource) and video.live  # paced like a camera by default
    video.release()
    assert not open_source(str(video_file), pace_video=False).live
    Image.fromarray(striped_image(np.random.default_rng(0))).save(tmp_path / "one.png")
    assert isinstance(open_source(f"file://{tmp_path / 'one.png'}"), ImageFilesSource)
    folder = open_source(f"file://{tmp_path}/")
    assert isinstance(folder, FolderSource)
    folder.release()


@pytest.mark.parametrize("uri, message", [
    ("", "no source given"),
    ("ftp://host/x", "unknown kind of source"),
    ("file:///nonexistent/video.mp4", "/nonexistent/video.mp4: no such file or folder"),
    ("csi://front", "expected a number"),
])
def test_bad_uris_are_refused_with_a_message(uri: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_source(uri)


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("not a video")
    with pytest.raises(InputError, match="clip.mp4"):
        source = open_source(str(fake))
        source.read()


def test_video_frames_come_in_order_as_rgb(video_file: Path) -> None:
    source = VideoFileSource(video_file, pace=False)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame)
    source.release()
    assert [frame.index for frame in frames] == list(range(1, 21))
    assert frames[0].image.shape == (72, 96, 3) and frames[0].image.dtype == np.uint8
    assert frames[0].image.flags["C_CONTIGUOUS"]
    red, blue = frames[10].image[..., 0].mean(), frames[10].image[..., 2].mean()
    assert abs(red - 50) < 6 and blue < 6  # BGR was converted: the grey level is in the red channel
    assert all(frame.capture_seconds > 0 for frame in frames)


def test_a_slow_consumer_drops_live_frames_and_keeps_the_latest(tmp_path: Path) -> None:
    video = write_video(tmp_path / "fast.avi", frames=60, fps=200.0)
    taken = []
    with LatestFrameReader(VideoFileSource(video, pace=True)) as reader:
        while not reader.ended:
            frame = reader.take(timeout=0.5)
            if frame is not None:
                taken.append(frame.index)
                time.sleep(0.03)  # inspection 6x slower than the source
        dropped = reader.dropped
    assert dropped > 20 and len(taken) + dropped == 60
    assert taken == sorted(taken) and taken[-1] == 60  # the last frame is never lost


def test_files_are_never_dropped(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    paths = []
    for index in range(6):
        paths.append(tmp_path / f"{index}.png")
        Image.fromarray(striped_image(rng)).save(paths[-1])
    taken, prepared_on = [], set()

    def prepare(frame):  # what live inspection does there: work that overlaps the consumer's
        prepared_on.add(threading.current_thread().name)
        return frame

    with LatestFrameReader(ImageFilesSource(paths), prepare=prepare) as reader:
        while not reader.ended:
            frame = reader.take(timeout=0.5)
            if frame is not None:
                taken.append(frame.path)
                time.sleep(0.02)
        assert reader.dropped == 0
        assert any(status.state == ENDED for status in reader.pop_statuses())
    assert taken == paths
    assert len(prepared_on) == 1 and prepared_on.pop().startswith("capture ")


def test_image_files_step_on_advance_and_skip_unreadable_ones(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    good = [tmp_path / "a.png", tmp_path / "c.png"]
    for path in good:
        Image.fromarray(striped_image(rng)).save(path)
    broken = tmp_path / "b.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    source = ImageFilesSource([good[0], broken, good[1]], step=True)
    notices = []
    source.set_listener(notices.append)
    assert source.read().path == good[0]
    threading.Timer(0.3, source.advance).start()
    started = time.perf_counter()
    second = source.read()
    assert second.path == good[1] and time.perf_counter() - started >= 0.25  # waited for "next image"
    assert any(status.state == NOTICE and "b.png" in status.message for status in notices)


def test_backoff_grows_and_stays_capped() -> None:
    assert [backoff_delay(attempt) for attempt in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_camera_that_cannot_open_is_retried_with_backoff_and_stops_promptly() -> None:
    source = CameraSource(63, cv2.CAP_V4L2, description="camera 63")  # no such device here
    statuses = []
    reader = LatestFrameReader(source)
    deadline = time.monotonic() + 10
    while sum(status.state == RETRYING for status in statuses) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
        statuses += reader.pop_statuses()
    retries = [status for status in statuses if status.state == RETRYING]
    assert [status.retry_in for status in retries[:2]] == [0.5, 1.0]
    assert "camera 63: cannot be opened (no such camera: /dev/video63 does not exist)" in retries[0].message
    assert "retrying (attempt 2) in 0.5 s" in retries[0].message and retries[0].attempt == 2
    started = time.perf_counter()
    reader.close()
    assert time.perf_counter() - started < 1.0 and reader.take(timeout=0.01) is None


def _write_slowly(path: Path, data: bytes, pause: float) -> None:
    with path.open("wb") as stream:
        stream.write(data[: len(data) // 2])
        stream.flush()
        time.sleep(pause)  # longer than the settle time: only the failed decode keeps the file waiting
        stream.write(data[len(data) // 2 :])


def test_watched_folder_inspects_new_files_once_completely_written(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    rng = np.random.default_rng(4)
    Image.fromarray(striped_image(rng)).save(incoming / "old.png")  # already there: not inspected
    expected = striped_image(rng, size=256)
    encoded = cv2.imencode(".png", cv2.cvtColor(expected, cv2.COLOR_RGB2BGR))[1].tobytes()
    source = FolderSource(incoming, settle_seconds=0.2)
    frames = []
    with LatestFrameReader(source) as reader:
        time.sleep(0.2)
        writer = threading.Thread(target=_write_slowly, args=(incoming / "new.png", encoded, 0.8))
        writer.start()
        Image.fromarray(striped_image(rng)).save(tmp_path / "staged.png")
        (tmp_path / "staged.png").rename(incoming / "renamed.png")  # written elsewhere, moved in
        (incoming / "notes.txt").write_text("not an image")
        deadline = time.monotonic() + 10
        while len(frames) < 2 and time.monotonic() < deadline:
            frame = reader.take(timeout=0.1)
            if frame is not None:
                frames.append(frame)
        writer.join()
    names = [frame.name for frame in frames]
    assert sorted(names) == ["new.png", "renamed.png"]
    new = frames[names.index("new.png")]
    assert np.array_equal(new.image, expected)  # never a half-written image


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        FolderSource(tmp_path / "nope")


class _Exploding(FrameSource):
    description = "exploding source"

    def read(self):  # noqa: ANN201
        raise RuntimeError("decoder crashed")


def test_an_unexpected_source_error_reaches_the_consumer() -> None:
    with LatestFrameReader(_Exploding()) as reader:
        assert reader.take(timeout=2) is None and reader.ended
        statuses = reader.pop_statuses()
    assert statuses[-1].state == "failed" and "decoder crashed" in statuses[-1].message
