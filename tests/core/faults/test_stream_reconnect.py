"""A network camera drops mid-run and comes back: the live loop reconnects with bounded back-off, says so in its
status, and its counters carry on. A stream that never opens makes `python -m core inspect` fail in bounded time.

The camera is real: MJPEG over HTTP on 127.0.0.1, read by OpenCV's FFmpeg backend, stopped and restarted.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from stream_testkit import MjpegCamera, closed_port

from core.cli import main
from core.jobs import CancelToken
from core.runtime import open_runtime
from core.sources import FrameResult, LiveSettings, SourceStatus, inspect_stream, open_source
from core.sources.base import RETRYING, RUNNING


class _Run:
    """Drives `inspect_stream` and keeps what it yielded, so the test can wait for one thing after another."""

    def __init__(self, model: Path, url: str) -> None:
        runtime = open_runtime(model)
        self.token = CancelToken()
        self.stream = inspect_stream(runtime, open_source(url), LiveSettings.for_runtime(runtime), self.token)
        self.results: list[FrameResult] = []
        self.statuses: list[SourceStatus] = []

    def until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"waited {timeout} s for {what}; statuses: " \
                                                f"{[status.message for status in self.statuses[-5:]]}"
            event = next(self.stream)
            if isinstance(event, FrameResult):
                self.results.append(event)
            elif isinstance(event, SourceStatus):
                self.statuses.append(event)

    def retries(self) -> list[SourceStatus]:
        return [status for status in self.statuses if status.state == RETRYING]


def test_a_stream_that_drops_and_comes_back_is_reconnected_and_counting_goes_on(good_model: Path) -> None:
    with MjpegCamera() as camera:
        run = _Run(good_model, camera.url)
        try:
            run.until(lambda: len(run.results) >= 5, 60, "the first frames")
            camera.stop()
            run.until(lambda: len(run.retries()) >= 3, 30, "three reconnection attempts")
            before = len(run.results)
            camera.start()
            run.until(lambda: len(run.results) >= before + 5, 30, "frames after the camera came back")
        finally:
            run.token.cancel()
            run.stream.close()

    retries = run.retries()
    assert [status.retry_in for status in retries[:3]] == [0.5, 1.0, 2.0]  # doubling, from 0.5 s
    assert [status.attempt for status in retries[:3]] == [1, 2, 3]
    name = f"stream {camera.url}"
    assert retries[0].message.startswith(f"{name}: stopped delivering frames")
    assert f"reconnecting to {name} (attempt 3) in 2 s" in retries[2].message
    assert "connection to 127.0.0.1" in retries[2].message and "refused" in retries[2].message  # the port is closed
    assert any(status.state == RUNNING and "receiving frames again" in status.message for status in run.statuses)
    # Counters survive: the loop's count and the source's frame numbers carry on where they were.
    assert [result.index for result in run.results] == list(range(1, len(run.results) + 1))
    frame_numbers = [result.frame.index for result in run.results]
    assert frame_numbers == sorted(set(frame_numbers)) and frame_numbers[before] > frame_numbers[before - 1]


def test_the_command_line_rides_out_a_drop(good_model: Path, capsys: pytest.CaptureFixture) -> None:
    with MjpegCamera() as camera:
        def unplug_for_a_while() -> None:
            while camera.frames_sent < 15:
                time.sleep(0.02)
            camera.stop()
            time.sleep(1.2)
            camera.start()

        cable = threading.Thread(target=unplug_for_a_while)
        cable.start()
        code = main(["inspect", "--model", str(good_model), "--source", camera.url, "--max-frames", "40"])
        cable.join()
    out, err = capsys.readouterr()
    assert code == 0 and len(out.strip().splitlines()) == 40
    assert f"reconnecting to stream {camera.url} (attempt 1)" in err and "receiving frames again" in err


def test_a_stream_that_never_opens_fails_the_command_in_bounded_time(good_model: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}/stream.mjpg"
    started = time.monotonic()
    code = main(["inspect", "--model", str(good_model), "--source", url, "--open-timeout", "1.5"])
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2 and 1.4 < elapsed < 6, elapsed
    assert err.strip().splitlines()[-1].startswith(f"error: stream {url}: cannot be opened (connection to ")
    assert re.search(r"refused: nothing listens there\); gave up after [34] attempt\(s\) in 1\.\d s$", err.strip())
    assert "Traceback" not in err
