"""`core.files`: what a killed writer leaves is cleared by the next one (and a live writer's is not touched), the
two-rename fallback puts the previous version back when killed between its renames, and a single file is written
whole or not at all, also onto a full disk. Writers here are real child processes, really killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from faults_testkit import cli_environment, temporaries_of, tmpfs

from core.errors import InputError
from core.files import clean_up_after_killed_writers, write_directory_atomically, write_file_atomically

_SLOW_WRITER = """
import sys, time
from pathlib import Path
from core.files import write_directory_atomically

def fill(folder):
    (folder / "v").write_text("new")
    time.sleep(600)  # still writing when it is killed

write_directory_atomically(Path(sys.argv[1]), fill)
"""

_KILLED_BETWEEN_RENAMES = """
import os, signal, sys
from pathlib import Path
import core.files as files

files._exchange = lambda first, second: False  # a file system without RENAME_EXCHANGE: the two-rename fallback
real_replace, calls = os.replace, []

def replace(source, destination):
    calls.append(destination)
    if len(calls) == 2:  # the previous version is moved aside, the new one not yet in place
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, destination)

os.replace = replace
files.write_directory_atomically(Path(sys.argv[1]), lambda folder: (folder / "v").write_text("new"))
"""


def _old_version(target: Path) -> Path:
    target.mkdir(parents=True)
    (target / "v").write_text("old")
    return target


def _start(script: str, target: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(target)], env=cli_environment())


def _wait_for_temporary(target: Path, process: subprocess.Popen) -> Path:
    deadline = time.monotonic() + 60
    while not [path for path in temporaries_of(target) if (path / "v").exists()]:
        assert process.poll() is None and time.monotonic() < deadline, "the writer never started writing"
        time.sleep(0.01)
    return temporaries_of(target)[0]


def test_the_next_write_clears_a_killed_writers_temporary(tmp_path: Path) -> None:
    target = _old_version(tmp_path / "model")
    writer = _start(_SLOW_WRITER, target)
    leftover = _wait_for_temporary(target, writer)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    assert leftover.is_dir() and (target / "v").read_text() == "old"

    write_directory_atomically(target, lambda folder: (folder / "v").write_text("next"))
    assert (target / "v").read_text() == "next" and os.listdir(tmp_path) == ["model"]


def test_a_running_writers_temporary_is_left_alone(tmp_path: Path) -> None:
    target = _old_version(tmp_path / "model")
    writer = _start(_SLOW_WRITER, target)
    try:
        theirs = _wait_for_temporary(target, writer)
        write_directory_atomically(target, lambda folder: (folder / "v").write_text("mine"))
        assert theirs.is_dir() and (theirs / "v").read_text() == "new"  # still theirs to finish or abandon
    finally:
        writer.kill()
        writer.wait(10)


def test_killed_between_the_fallbacks_two_renames_the_previous_version_comes_back(tmp_path: Path) -> None:
    target = _old_version(tmp_path / "model")
    writer = _start(_KILLED_BETWEEN_RENAMES, target)
    assert writer.wait(60) == -signal.SIGKILL
    assert not target.exists()  # the moment the fallback cannot avoid: the name is briefly free

    clean_up_after_killed_writers(target)  # what every later write does first
    assert (target / "v").read_text() == "old" and os.listdir(tmp_path) == ["model"]


def test_a_file_is_written_whole_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "frame.png"
    target.write_bytes(b"previous")
    write_file_atomically(target, b"x" * 100_000)
    assert target.read_bytes() == b"x" * 100_000 and os.listdir(tmp_path) == ["frame.png"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_a_file_onto_a_full_disk_names_it_and_leaves_the_previous_one(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", 256 * 1024) as disk:
        target = disk / "frame.png"
        target.write_bytes(b"previous")
        with pytest.raises(InputError, match=rf"^{re.escape(str(target))}: no space left on device while writing the file"):
            write_file_atomically(target, b"x" * 1_000_000)
        assert target.read_bytes() == b"previous" and os.listdir(disk) == ["frame.png"]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask
