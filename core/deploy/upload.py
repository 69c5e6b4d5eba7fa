"""Upload a bundle's files over SFTP, resuming where a dropped connection left them.

A file already on the device at its full size is skipped and a shorter one is continued from where it stops;
whatever was skipped or continued is proven (or disproven) by the sha256 check on the device afterwards.
"""

from __future__ import annotations

import errno
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko

from core.deploy.connection import ConnectionLost
from core.deploy.errors import DeployError
from core.deploy.remote import Remote
from core.jobs import CancelToken, Progress

CHUNK_BYTES = 256 * 1024


@dataclass(frozen=True)
class UploadPlan:
    """Which files go where: `names` relative to both `local_dir` and `remote_dir` (an absolute path)."""

    local_dir: Path
    remote_dir: str
    names: Sequence[str]


def upload(remote: Remote, plan: UploadPlan, token: CancelToken) -> Generator[Progress, None, int]:
    """Send the files, yielding byte progress; return the number of bytes actually sent (resumed files count
    only their remainder)."""
    total = sum((plan.local_dir / name).stat().st_size for name in plan.names)
    done, sent = 0, 0
    for index, name in enumerate(plan.names):
        local = plan.local_dir / name
        size = local.stat().st_size
        target = f"{plan.remote_dir}/{name}"
        have = _remote_size(remote, target)
        offset = have if have is not None and have <= size else 0
        if offset == size:
            done += size
            yield Progress(done, total, f"{name} already on the device", _counts(index + 1, plan), "upload")
            continue
        try:
            with local.open("rb") as source, remote.sftp.open(target, "r+b" if offset else "wb") as sink:
                sink.set_pipelined(True)
                source.seek(offset)
                sink.seek(offset)
                done += offset
                while block := source.read(CHUNK_BYTES):
                    token.raise_if_cancelled()
                    sink.write(block)
                    done += len(block)
                    sent += len(block)
                    yield Progress(done, total, f"uploading {name}", _counts(index, plan), "upload")
        except (OSError, EOFError, paramiko.SSHException) as error:
            failure = remote.lost_or_raise(error)
            if isinstance(failure, ConnectionLost):
                raise failure from None
            raise DeployError(f"{remote.label}: writing {target} failed ({_reason(error)}); is the device's disk "
                              f"full or the directory read-only?") from None
        yield Progress(done, total, f"uploaded {name}", _counts(index + 1, plan), "upload")
    return sent


def _remote_size(remote: Remote, path: str) -> int | None:
    try:
        return remote.sftp.stat(path).st_size
    except FileNotFoundError:
        return None
    except (OSError, EOFError, paramiko.SSHException) as error:
        failure = remote.lost_or_raise(error)
        if isinstance(failure, ConnectionLost):
            raise failure from None
        return None


def _counts(files_done: int, plan: UploadPlan) -> dict[str, float]:
    return {"files_done": files_done, "files_total": len(plan.names)}


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.errno == errno.EACCES:
        return "permission denied"
    return str(error) or type(error).__name__
