"""The layout of deployments on the device, and the shell commands that move a release through it.

    <root>/releases/<id>.partial   being uploaded; never used
    <root>/releases/<id>           uploaded and verified (sha256 on the device); the engine is built in it
    <root>/current -> releases/<id>   the active deployment, switched by renaming a new symlink over the old one

Every command quotes its paths and is safe to run again after a dropped connection.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.deploy.errors import DeployError

if TYPE_CHECKING:  # the layout is read without paramiko (the CLI's flags, live_service's constants)
    from core.deploy.remote import Remote

RELEASES = "releases"
CURRENT = "current"
PARTIAL_SUFFIX = ".partial"
RELEASE_ID = re.compile(r"\d{8}-\d{6}-\d{3}-[0-9a-f]{8}")
_SHA256_LINE = re.compile(r"^\\?([0-9a-f]{64}) [ *](.+)$")
# Fallback for devices without coreutils' sha256sum; prints the same format.
_PY_SHA256 = ("import hashlib,sys\n"
              "for n in sys.argv[1:]:\n"
              "    try:\n"
              "        print(hashlib.sha256(open(n,'rb').read()).hexdigest()+'  '+n)\n"
              "    except OSError:\n"
              "        pass\n")


@dataclass(frozen=True)
class Layout:
    """Paths of one deployment on the device; `root` is absolute."""

    root: str
    release_id: str

    @property
    def partial(self) -> str:
        return f"{self.root}/{RELEASES}/{self.release_id}{PARTIAL_SUFFIX}"

    @property
    def release(self) -> str:
        return f"{self.root}/{RELEASES}/{self.release_id}"

    @property
    def current(self) -> str:
        return f"{self.root}/{CURRENT}"


def resolve_root(remote: Remote, remote_dir: str) -> str:
    """`remote_dir` as an absolute path: `~/x` and relative paths are taken from the login's home directory."""
    if remote_dir.startswith("/"):
        return remote_dir.rstrip("/") or "/"
    if remote_dir.startswith("~") and remote_dir != "~" and not remote_dir.startswith("~/"):
        raise DeployError(f"--remote-dir {remote_dir}: another user's ~ is not supported; give an absolute path")
    home = remote.sftp.normalize(".")
    relative = remote_dir[1:].lstrip("/") if remote_dir.startswith("~") else remote_dir
    return f"{home.rstrip('/')}/{relative}".rstrip("/")


def prepare(remote: Remote, layout: Layout, subdirs: Iterable[str], needed_bytes: int) -> str | None:
    """Create the partial release directory, checking the root is writable and has room; return the release
    `current` points at now (None on a first deployment). One round trip: logins can be slow to start a shell."""
    q = shlex.quote
    directories = " ".join(q(f"{layout.partial}/{sub}".rstrip("/")) for sub in sorted({"", *subdirs}))
    result = remote.run(f"mkdir -p {directories} && df -Pk {q(layout.root)}/{RELEASES} && "
                        f"echo \"@current $(readlink {q(layout.current)})\"")
    if not result.ok:
        raise DeployError(f"{remote.label}: cannot create {layout.partial} ({result.reason()}); choose another "
                          f"--remote-dir or fix its permissions")
    lines = result.stdout.strip().splitlines()
    current = next((line.removeprefix("@current").strip() for line in lines if line.startswith("@current")), "")
    usage = [line.split() for line in lines if not line.startswith("@current")]
    if len(usage) >= 2 and len(usage[-1]) >= 4 and usage[-1][3].isdigit():
        available = int(usage[-1][3]) * 1024
        if available < needed_bytes:
            remote.run(f"rm -rf {q(layout.partial)}")
            raise DeployError(f"{remote.label}: not enough disk space in {layout.root}: {_mb(needed_bytes)} "
                              f"needed, {_mb(available)} free. Delete old releases in {layout.root}/{RELEASES} "
                              f"or choose another --remote-dir")
    return current or None


def checksums(remote: Remote, directory: str, names: Sequence[str]) -> dict[str, str]:
    """sha256 of each of `names` in `directory`, computed on the device; missing files are left out."""
    q = shlex.quote
    files = " ".join(q(name) for name in names)
    result = remote.run(
        f"cd {q(directory)} && if command -v sha256sum >/dev/null 2>&1; then sha256sum -- {files}; "
        f"else python3 -c {q(_PY_SHA256)} {files}; fi", timeout=max(remote.timeout, 300.0))
    found = {}
    for line in result.stdout.splitlines():
        match = _SHA256_LINE.match(line.strip())
        if match:
            found[match.group(2)] = match.group(1)
    return found


def mismatches(expected: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    return sorted(name for name, digest in expected.items() if found.get(name) != digest)


def remove_files(remote: Remote, directory: str, names: Sequence[str]) -> None:
    q = shlex.quote
    remote.run(f"cd {q(directory)} && rm -f -- {' '.join(q(name) for name in names)}")


def finalise(remote: Remote, layout: Layout) -> None:
    """Rename the verified partial release to its final name (done already if only the final one exists)."""
    q = shlex.quote
    result = remote.run(f"if [ -d {q(layout.partial)} ]; then mv -T {q(layout.partial)} {q(layout.release)}; "
                        f"else [ -d {q(layout.release)} ]; fi")
    if not result.ok:
        raise DeployError(f"{remote.label}: cannot rename {layout.partial} to {layout.release} ({result.reason()})")


def activate(remote: Remote, layout: Layout) -> None:
    """Point `current` at the release atomically: a new symlink renamed over the old one (rename(2) is atomic;
    `ln -sfn` is an unlink and a create, with a moment where `current` does not exist)."""
    q = shlex.quote
    temporary = f".{CURRENT}.{layout.release_id}.tmp"
    target = f"{RELEASES}/{layout.release_id}"
    result = remote.run(f"cd {q(layout.root)} && rm -f {q(temporary)} && ln -s {q(target)} {q(temporary)} && "
                        f"{{ mv -T {q(temporary)} {CURRENT} || {{ rm -f {q(temporary)}; false; }}; }} && "
                        f"readlink {CURRENT}")
    if not result.ok:
        raise DeployError(f"{remote.label}: cannot switch {layout.current} to {target} ({result.reason()}); the "
                          f"previous deployment is still active")
    if result.stdout.strip() != target:
        raise DeployError(f"{remote.label}: {layout.current} does not point at {target} after the switch")


def prune(remote: Remote, layout: Layout, keep: int, protect: Iterable[str | None]) -> list[str]:
    """Delete all but the newest `keep` releases (never the protected ones) and leftover partial uploads; the
    names deleted."""
    names = remote.sftp.listdir(f"{layout.root}/{RELEASES}")
    protected = {str(name).rsplit("/", 1)[-1] for name in protect if name} | {layout.release_id}
    complete = sorted(name for name in names if RELEASE_ID.fullmatch(name))
    partial = [name for name in names
               if name.endswith(PARTIAL_SUFFIX) and RELEASE_ID.fullmatch(name.removesuffix(PARTIAL_SUFFIX))]
    doomed = [name for name in complete[:-keep] if name not in protected] if keep > 0 else []
    doomed += [name for name in partial if name.removesuffix(PARTIAL_SUFFIX) not in protected]
    if doomed:
        q = shlex.quote
        remote.run(f"cd {q(layout.root)}/{RELEASES} && rm -rf -- {' '.join(q(name) for name in doomed)}")
    return doomed


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"
