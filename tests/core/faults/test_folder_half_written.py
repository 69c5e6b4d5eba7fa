"""A watched folder receives a file that another process writes slowly, in chunks: it is inspected once, when
complete, and equals the whole image, never a broken frame. The pauses between chunks are longer than the
watcher's settle time, so the watcher must see from the file itself that it is not finished."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import ImageFile

from core.data.images import read_image
from core.sources import LatestFrameReader
from core.sources.complete import looks_complete
from core.sources.folder import FolderSource
from tests.core.sources.sources_testkit import striped_image

_WRITER = """
import sys, time
data = open(sys.argv[1], "rb").read()
target, chunks, reopen = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "reopen"
size = -(-len(data) // chunks)
stream = open(target, "wb")
for start in range(0, len(data), size):
    if reopen and start:
        stream = open(target, "ab")  # a writer that closes the file after every chunk (each close is an event)
    stream.write(data[start:start + size])
    stream.flush()
    if reopen:
        stream.close()
    time.sleep(0.35)
stream.close()
"""


def _encoded(suffix: str, image: np.ndarray) -> bytes:
    return cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("mode", ["held open", "reopen"])
@pytest.mark.parametrize("decoder", ["strict", "lenient"])
def test_a_slowly_written_file_is_read_once_and_whole(suffix: str, mode: str, decoder: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # "lenient": some library in the process has told Pillow to decode truncated files (a common work-around),
    # so a half-written file decodes, its missing rows grey; the watcher must not rely on the decoder refusing it.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", decoder == "lenient")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    whole = tmp_path / f"whole{suffix}"
    whole.write_bytes(_encoded(suffix, striped_image(np.random.default_rng(9), size=192)))
    expected = read_image(whole)
    frames = []
    with LatestFrameReader(FolderSource(incoming, settle_seconds=0.2)) as reader:
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(whole), str(incoming / f"part{suffix}"), "6",
                                   mode])
        deadline, finished_at = time.monotonic() + 30, None
        while time.monotonic() < deadline and (finished_at is None or time.monotonic() < finished_at + 1.0):
            frame = reader.take(timeout=0.05)  # and a second later: time for a second, wrong read to show up
            if frame is not None:
                frames.append(frame)
            if finished_at is None and writer.poll() is not None:
                finished_at = time.monotonic()
        assert writer.wait(10) == 0
    assert [frame.name for frame in frames] == [f"part{suffix}"]  # once
    assert np.array_equal(frames[0].image, expected)  # whole: every pixel of the complete file


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_a_file_cut_short_is_seen_to_be_incomplete(suffix: str, tmp_path: Path) -> None:
    data = _encoded(suffix, striped_image(np.random.default_rng(3), size=48))
    path = tmp_path / f"frame{suffix}"
    for cut in (len(data) // 3, len(data) - 1):
        path.write_bytes(data[:cut])
        assert not looks_complete(path), cut
    path.write_bytes(data)
    assert looks_complete(path)
