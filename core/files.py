"""File helpers every artefact writer shares (model directories, deployment bundles); torch-free, so quick to import."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import InputError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_replaceable(target: Path, replaceable: Callable[[Path], bool], kind: str) -> None:
    """Refuse (with `InputError`) a `target` that `write_directory_atomically` would refuse to replace: a file, or a
    non-empty folder that `replaceable` does not recognise. Commands call it first, so nothing is computed in vain."""
    target = Path(target).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not replaceable(target):
        raise InputError(f"{target}: exists and is not a {kind}; refusing to replace it")


def write_directory_atomically(
    target: Path,
    fill: Callable[[Path], object],
    replaceable: Callable[[Path], bool] = lambda path: True,
    kind: str = "folder of this kind",
) -> Path:
    """Create directory `target` by calling fill(temporary) on a temporary sibling, then renaming it into place.

    An interrupted or failed fill leaves nothing behind and never touches an existing `target`. An existing
    non-empty `target` is replaced only when `replaceable(target)` says it is the same kind of artefact, so a
    mistyped --out never deletes some other folder.
    """
    target = Path(target).absolute()
    check_replaceable(target, replaceable, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o777 & ~umask)  # mkdtemp makes it private; an artefact folder is an ordinary folder
        fill(temporary)
        for file in temporary.rglob("*"):  # make the content durable before it becomes visible
            if file.is_file():
                with file.open("rb") as stream:
                    os.fsync(stream.fileno())
        if target.exists():
            retired = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, retired)
            os.replace(temporary, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target
