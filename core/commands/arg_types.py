"""argparse `type=` functions that refuse values which make no sense, before any job starts.

Each raises `argparse.ArgumentTypeError`, which argparse prints as one line naming the option, then exits with
status 2, e.g. `python -m core train: error: argument --epochs: must be a whole number from 1 to 10000, got -3`.
Output paths are checked the same way (an existing file where a folder is wanted, a folder below a file, a place
this user cannot write), so that a long training or export is not thrown away at its last step.

Example:
    >>> parser.add_argument("--epochs", type=whole_number(1, 10_000))                  # doctest: +SKIP
    >>> parser.add_argument("--threshold", type=real_number(0, math.inf))              # doctest: +SKIP
    >>> parser.add_argument("--out", type=output_folder)                               # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A type accepting whole numbers from `low` to `high` inclusive (no fractions, no exponents)."""
    return _number_type(int, lambda value: low <= value <= high, f"must be a whole number from {low} to {high}")


def real_number(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A type accepting finite numbers from `low` (excluded when `above`) to `high` inclusive; never NaN."""
    if math.isinf(high):
        wanted = f"must be a finite number {'above' if above else 'of at least'} {low:g}"
    elif above:
        wanted = f"must be a number above {low:g} and at most {high:g}"
    else:
        wanted = f"must be a number from {low:g} to {high:g}"

    def accepts(value: float) -> bool:  # NaN compares false with everything, infinities are not settings
        return math.isfinite(value) and (value > low if above else value >= low) and value <= high

    return _number_type(float, accepts, wanted)


Number = TypeVar("Number", int, float)


def _number_type(convert: Callable[[str], Number], accepts: Callable[[Number], bool],
                 wanted: str) -> Callable[[str], Number]:
    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{wanted}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"{wanted}, got {text.strip()}")
        return value

    parse.__name__ = convert.__name__  # what argparse would name in its own messages
    return parse


def output_folder(text: str) -> Path:
    """A folder that files are written into: it may exist (as a folder) or be creatable by this user."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is an existing file, not a folder")
    _check_writable(path, path)
    return path


def replaced_folder(text: str) -> Path:
    """A folder written next to itself and renamed into place (a model directory, a bundle): its parent must be
    writable. Whether an existing folder there may be replaced is the command's to say (see `core.files`)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is an existing file, not a folder")
    _check_writable(path, path.absolute().parent)
    return path


def output_file(text: str) -> Path:
    """A file to write (a JSON report): not an existing folder, in a folder this user can create or write."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is an existing folder, not a file")
    _check_writable(path, path.absolute().parent)
    return path


def input_file(text: str) -> Path:
    """An existing, readable file (a key, a weights file)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path} does not exist")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{path} is a folder, not a file")
    try:
        with path.open("rb") as stream:
            stream.read(1)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"{path} cannot be read ({error.strerror or error})") from None
    return path


def _check_writable(path: Path, folder: Path) -> None:
    """Refuse `path` when `folder` (or, if it does not exist yet, its nearest existing parent) takes no new entries.

    Permission bits do not tell (root ignores them, and /sys or a read-only mount refuses even root), so this tries:
    it makes an empty folder there and removes it at once.
    """
    existing = folder.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{path}: {existing} is a file, so no folder can be made there")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".write-test-", dir=existing))
    except OSError as error:
        raise argparse.ArgumentTypeError(
            f"{path}: cannot write in {existing} ({error.strerror or error})") from None


# Limits that several commands share, so that `train` and `benchmark` (or `export` and `compare`) agree.
EPOCHS = whole_number(1, 10_000)
BATCH_SIZE = whole_number(1, 1024)
IMAGE_SIZE = whole_number(32, 2048)  # the backbones' deepest features are 1/32 of the input: 32 px gives 1 x 1
SEED = whole_number(0, 2**32 - 1)  # NumPy's and PyTorch's generators both take this range
CALIBRATION_SAMPLES = whole_number(1, 1024)  # 1024 inputs of 256 px are 0.8 GB of float32 already
RUNS = whole_number(1, 100_000)
SECONDS = real_number(0, 7 * 24 * 3600, above=True)
TARGET_FRR = real_number(0, 0.5, above=True)  # a false-reject rate above one half rejects most good parts
# 0: the held-out split; 1 fold would score each image by a model fitted on nothing
THRESHOLD_FOLDS = _number_type(int, lambda value: value == 0 or 2 <= value <= 20,
                               "must be 0 (hold 10 % out) or a whole number of folds from 2 to 20")
