"""Sources as bad input to `python -m core inspect`: one clear line naming the source and what is wrong with it, exit
code 2, no traceback, within a bounded time (cameras and streams get `--open-timeout 1`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from stream_testkit import MjpegCamera, closed_port

from core.cli import main


def _text_file(path: Path, text: str = "not a picture") -> str:
    path.write_text(text)
    return str(path)


CASES: dict[str, Callable[[Path], tuple[str, str]]] = {
    "missing file": lambda tmp: (str(tmp / "line.mp4"), f"{tmp / 'line.mp4'}: no such file or folder"),
    "missing folder": lambda tmp: (f"file://{tmp}/incoming/", f"{tmp}/incoming/: no such folder"),
    "file given as a folder": lambda tmp: (_text_file(tmp / "incoming") + "/", f"{tmp}/incoming/: is a file, not a "
                                                                                "folder"),
    "refused stream": lambda tmp: (f"rtsp://127.0.0.1:{(port := closed_port())}/line",
                                   f"stream rtsp://127.0.0.1:{port}/line: cannot be opened (connection to "
                                   f"127.0.0.1:{port} refused: nothing listens there); gave up after"),
    "unknown URI scheme": lambda tmp: ("gopher://camera.local/line", "gopher://camera.local/line: unknown kind of "
                                                                     "source (use csi://, v4l2://, rtsp://"),
    "video file that is not a video": lambda tmp: (_text_file(tmp / "clip.mp4"), f"{tmp / 'clip.mp4'}: OpenCV "
                                                   "cannot open this file as a video"),
    "camera index that does not exist": lambda tmp: ("63", "camera 63: cannot be opened (no such camera: "
                                                           "/dev/video63 does not exist); gave up after"),
    "V4L2 device that does not exist": lambda tmp: ("v4l2:///dev/video63", "V4L2 camera /dev/video63: cannot be "
                                                    "opened (no such camera: /dev/video63 does not exist)"),
    "port out of range": lambda tmp: ("http://127.0.0.1:99999/cam", "http://127.0.0.1:99999/cam: the port is not a "
                                                                    "number from 1 to 65535"),
    "stream address without a host": lambda tmp: ("rtsp:///line", "rtsp:///line: no host in the address"),
    "text file named .png": lambda tmp: (_text_file(tmp / "part.png"), f"{tmp / 'part.png'}: not an image file"),
    "file of an unknown kind": lambda tmp: (_text_file(tmp / "notes.txt"), f"{tmp / 'notes.txt'}: not a video"),
    "CSI camera that is not a number": lambda tmp: ("csi://front", "csi://front: expected a number after the scheme"),
}


def _inspect(model: Path, source: str, capsys: pytest.CaptureFixture) -> tuple[int, str, float]:
    started = time.monotonic()
    code = main(["inspect", "--model", str(model), "--source", source, "--open-timeout", "1"])
    return code, capsys.readouterr().err, time.monotonic() - started


def _assert_one_clear_error(code: int, err: str, expected: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and "Traceback" not in err
    assert errors == [err.strip().splitlines()[-1]], err  # one error line, and it is the last
    assert errors[0].startswith(f"error: {expected}"), errors[0]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_source_is_one_clear_line(case: str, good_model: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    source, expected = CASES[case](tmp_path)
    code, err, seconds = _inspect(good_model, source, capsys)
    _assert_one_clear_error(code, err, expected)
    assert seconds < 8


def test_a_server_that_answers_without_video_is_named(good_model: Path, capsys: pytest.CaptureFixture) -> None:
    with MjpegCamera() as camera:
        url = f"http://127.0.0.1:{camera.port}/no-such-stream"  # the camera's server, a path it answers 404 to
        code, err, seconds = _inspect(good_model, url, capsys)
    _assert_one_clear_error(code, err, f"stream {url}: cannot be opened (127.0.0.1:{camera.port} answered, but "
                                       "sent no video OpenCV can read at that path)")
    assert seconds < 8
