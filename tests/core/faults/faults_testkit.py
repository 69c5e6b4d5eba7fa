"""Helpers for the fault tests: the real CLI in a child process, killed at a chosen moment of its save; snapshots
that tell whether a model or bundle survived byte for byte; a tmpfs of a chosen size."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from core.files import PARTIAL_SUFFIX
from core.runtime import open_runtime


REPO = Path(__file__).resolve().parents[3]
IMAGE_SIZE = 32  # the fixtures' models: PatchCore, random weights, 32 px (seconds to fit)


def cli_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "core", *arguments]


def cli_environment() -> dict[str, str]:
    """The child runs this worktree's code, on one thread (two cores are shared), without a display."""
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "QT_QPA_PLATFORM": "offscreen"}


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path: equal snapshots mean an untouched artefact."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def temporaries_of(target: Path) -> list[Path]:
    """The temporary siblings `core.files` writes `target` into."""
    return [path for path in target.parent.glob(f".{target.name}.*") if path.name.endswith(PARTIAL_SUFFIX)]


def assert_still_loads(target: Path, expected: dict[str, str]) -> None:
    """`target` is byte-identical to the snapshot `expected`, verifies (every hash in its manifest) and scores."""
    assert snapshot(target) == expected
    runtime = open_runtime(target)  # re-hashes every file the manifest lists
    scores, maps = runtime.predict(np.zeros((1, runtime.image_size, runtime.image_size, 3), np.uint8))
    assert np.isfinite(scores).all() and maps.shape[-2:] == (runtime.image_size, runtime.image_size)


def _names_in(folder: Path) -> set[str] | None:
    """Files in `folder` by relative path, or None when it went away while being listed (renamed into place)."""
    try:
        return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    except FileNotFoundError:
        return None


def kill_while_saving(command: list[str], target: Path, moment: Callable[[set[str]], bool], log: Path,
                      timeout: float = 600.0) -> set[str]:
    """Run `command`; as soon as a temporary sibling of `target` holds files for which `moment(names)` is true,
    freeze the process (SIGSTOP, so the moment cannot slip), note what the temporary holds, then `kill -9` it.

    Returns the names the temporary held when the process died. Fails the test if the command ended first.
    """
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=cli_environment(), stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None and time.monotonic() < deadline:
            for temporary in temporaries_of(target):
                names = _names_in(temporary)
                if names is not None and moment(names):
                    os.kill(process.pid, signal.SIGSTOP)
                    frozen = _names_in(temporary)
                    os.kill(process.pid, signal.SIGKILL)
                    process.wait(30)
                    assert frozen is not None, "the save completed before the process could be stopped"
                    return frozen
            time.sleep(0.001)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    pytest.fail(f"{' '.join(command[2:])} ended (exit {process.returncode}) before the moment came:\n"
                f"{log.read_text(errors='replace')[-2000:]}")


@contextmanager
def tmpfs(mount_point: Path, size_bytes: int) -> Iterator[Path]:
    """A real tmpfs of `size_bytes` at `mount_point` (needs root or CAP_SYS_ADMIN); skips the test where the sandbox
    refuses to mount, since the file-size-limit test covers the same code path there."""
    mount_point.mkdir(parents=True, exist_ok=True)
    kilobytes = max(size_bytes // 1024, 64)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def train_arguments(data: Path, out: Path) -> list[str]:
    """`python -m core train` arguments for the fixtures' kind of model: tiny, random weights, seconds to fit."""
    return ["train", "--data", str(data), "--method", "patchcore", "--image-size", str(IMAGE_SIZE),
            "--weights", "random", "--out", str(out)]
