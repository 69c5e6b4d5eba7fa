"""File helpers every artefact writer shares (model directories, deployment bundles, saved frames); torch-free.

The atomic writes here survive `kill -9` and a full disk: content goes to a temporary sibling (same file system,
so the final rename is atomic), is fsynced, and only then takes the target's name. An existing target directory is
swapped with the new one in a single rename (Linux `renameat2(RENAME_EXCHANGE)`), so there is no moment at which the
target name is missing. Temporaries left by a killed writer are named after its host and process id and removed by
the next write to the same target once that process is gone.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import InputError

PARTIAL_SUFFIX = ".partial"
_RETIRED = "retired"  # the previous version, moved aside by the two-rename fallback
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100
_FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


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
    mistyped --out never deletes some other folder. A full disk raises `InputError` naming `target`.
    """
    target = Path(target).absolute()
    check_replaceable(target, replaceable, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_up_after_killed_writers(target)
    temporary = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=PARTIAL_SUFFIX, dir=target.parent))
    try:
        temporary.chmod(0o777 & ~_umask())  # mkdtemp makes it private; an artefact folder is an ordinary folder
        fill(temporary)
        for path in [*temporary.rglob("*"), temporary]:  # make the content durable before it becomes visible
            _fsync_path(path)
        _swap_into_place(temporary, target)  # from here on, `temporary` holds the previous version (if any)
        _fsync_path(target.parent)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        _raise_if_disk_full(error, target, kind)
        raise
    shutil.rmtree(temporary, ignore_errors=True)
    return target


def write_file_atomically(target: Path, data: bytes) -> Path:
    """Write `data` to file `target` so that a reader (or a restart after `kill -9`) sees all of it or nothing.

    A full disk raises `InputError` naming `target`; the temporary file is removed either way.
    """
    target = Path(target).absolute()
    handle, name = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=PARTIAL_SUFFIX, dir=target.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.chmod(0o666 & ~_umask())  # mkstemp makes it private; a saved frame is an ordinary file
        os.replace(temporary, target)
        _fsync_path(target.parent)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        _raise_if_disk_full(error, target, "file")
        raise
    return target


@contextmanager
def scratch_directory(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target` (same file system, so its files can be hard-linked or renamed into a
    write of `target`), removed on exit; named like `write_directory_atomically`'s temporaries, so one left by a
    killed process is removed by the next write of `target`."""
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_up_after_killed_writers(target)
    folder = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=PARTIAL_SUFFIX, dir=target.parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean_up_after_killed_writers(target: Path) -> None:
    """Remove temporaries a killed writer of `target` left beside it; put back a previous version it had moved away.

    Only temporaries of processes of this host that no longer run are touched, so a concurrent writer is safe.
    """
    target = Path(target).absolute()
    for leftover, retired in _leftovers(target):
        if retired and not target.exists():
            os.replace(leftover, target)  # killed between the two renames of the non-Linux fallback
        elif leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{_host()}.{os.getpid()}."


def _leftovers(target: Path) -> Iterator[tuple[Path, bool]]:
    """(path, is_retired_previous_version) of every temporary of `target` whose writer on this host is gone."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.{re.escape(_host())}\.(\d+)\."
                         rf"(?:(?P<retired>{_RETIRED})|[^/]*{re.escape(PARTIAL_SUFFIX)})")
    for path in target.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not _process_alive(int(match.group(1))):
            yield path, match.group("retired") is not None


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _swap_into_place(temporary: Path, target: Path) -> None:
    """Give `temporary` the name `target`; an existing `target` ends up at `temporary`'s name."""
    if not target.exists():
        os.replace(temporary, target)
        return
    if _exchange(temporary, target):
        return
    # No atomic exchange on this platform or file system: two renames, with a name that the next write recognises
    # (clean_up_after_killed_writers puts the previous version back if the process dies between them).
    retired = target.with_name(f"{_temporary_prefix(target)}{_RETIRED}")
    os.replace(target, retired)
    os.replace(temporary, target)
    os.replace(retired, temporary)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where the system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _fsync_path(path: Path) -> None:
    """fsync a file, or a directory (so a rename in it is durable)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):
        if Path(path).is_dir():  # Windows cannot open a directory; its renames are durable without it
            return
        raise
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF):  # some file systems cannot fsync a directory
            raise
    finally:
        os.close(descriptor)


@functools.cache
def _umask() -> int:
    """The process umask, read once (setting it to read it back is not thread-safe, so Linux's /proc comes first)."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"^Umask:\s*([0-7]+)", status, re.MULTILINE).group(1), 8)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        umask = os.umask(0)
        os.umask(umask)
        return umask


def _raise_if_disk_full(error: BaseException, target: Path, kind: str) -> None:
    """Turn a full disk (or a file size limit), however a library reports it, into an `InputError` naming `target`."""
    reason = _space_problem(error)
    if reason is None:
        return
    try:
        free = f", {shutil.disk_usage(target.parent).free / 1e6:.1f} MB free there"
    except OSError:
        free = ""
    raise InputError(f"{target}: {reason} while writing the {kind}{free}; nothing was replaced and no partial "
                     f"{kind} was left behind") from None


def _space_problem(error: BaseException) -> str | None:
    """'no space left on device' or 'file too large' when `error` (or what caused it) says so, else None.

    safetensors reports ENOSPC as a SafetensorError whose text holds "os error 28", so the text is read too.
    """
    seen: BaseException | None = error
    while seen is not None:
        code = seen.errno if isinstance(seen, OSError) else None
        text = str(seen)
        if code in _FULL_DISK_ERRNOS or "No space left on device" in text or "os error 28" in text:
            return "no space left on device"
        if code == errno.EFBIG or "File too large" in text or "os error 27" in text:
            return "file too large (file system or process file size limit)"
        seen = seen.__cause__ or seen.__context__
    return None
