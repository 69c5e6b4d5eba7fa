"""Push a bundle to a Jetson over SSH: upload, verify on the device, build the engine there, then switch.

The job runs these steps, each safe to run again:

    prepare   resolve the remote directory, check it is writable and has room, create releases/<id>.partial
    upload    SFTP, resuming files a dropped connection cut short
    verify    sha256 of every file computed on the device; a mismatching file is sent once more
    finalise  rename releases/<id>.partial to releases/<id>
    build     (when asked) python3 device/build_engine.py on the device, its log streamed back line by line
    activate  point `current` at the new release atomically
    prune     delete old releases beyond the ones kept, and leftover partial uploads

The previous deployment stays active until `activate`, so any failure before it (including a build failure, or a
device without trtexec: `EngineNotBuilt`) leaves the device as it was. A dropped or silent connection is retried
with exponential back-off up to `retries` times, continuing from the step that failed. Everything the job reports
is also written to a local log; the device keeps the build log in the release directory.

Example:
    >>> target = SshTarget("jetson.local", "nvidia", key_path=Path("~/.ssh/id_ed25519"))
    >>> result = run_to_end(deploy(Path("bundles/bottle-int8"), target, CancelToken()), print)
    >>> result.engine_built, result.release_path
    (True, '/home/nvidia/inspection-station/releases/20250101-120000-250-1a2b3c4d')
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from core.bundle import GRAPH_FILE, MANIFEST, bundle_files, verify_bundle
from core.deploy import releases
from core.deploy.connection import ConnectionLost, SshTarget, open_client
from core.deploy.device import build_engine
from core.deploy.errors import ConnectionFailed, DeployError, EngineNotBuilt
from core.deploy.remote import Remote
from core.deploy.upload import UploadPlan, upload
from core.files import sha256_of
from core.jobs import CancelToken, Job, Progress
from core.model_manifest import BundleManifest

_ENGINE_HEADROOM = 16 * 1024 * 1024
_NOT_BUILT = {
    build_engine.EXIT_NO_TRTEXEC: ("no-trtexec", "trtexec was not found on the device (PATH, /usr/src/tensorrt/bin):"
                                                 " install TensorRT (JetPack), or deploy with --no-build"),
    build_engine.EXIT_BUILD_FAILED: ("build-failed", "trtexec failed"),
    build_engine.EXIT_TIMEOUT: ("timeout", "the build timed out"),
    build_engine.EXIT_UNSUPPORTED: ("unsupported", "the device's TensorRT cannot build this bundle"),
    build_engine.EXIT_BAD_BUNDLE: ("bad-bundle", "the build script could not read the bundle"),
    127: ("no-python", "python3 was not found on the device"),
}


@dataclass(frozen=True)
class DeployOptions:
    """How to deploy. `remote_dir` may start with ~ (the login's home); time-outs are in seconds."""

    remote_dir: str = "~/inspection-station"
    build: bool = True
    opt_batch: int = 1
    max_batch: int = 4
    retries: int = 3
    backoff_seconds: float = 1.0
    command_timeout: float = 60.0
    build_timeout: float = 3600.0
    keep_releases: int = 3
    log_dir: Path | None = None


@dataclass(frozen=True)
class DeployResult:
    """What is now on the device. `previous_release` is what `current` pointed at before (None: first deploy)."""

    host: str
    release_id: str
    release_path: str
    current_path: str
    previous_release: str | None
    engine_built: bool
    engine_info: Mapping[str, Any] | None
    bundle_bytes: int
    bytes_sent: int
    seconds: float
    local_log: Path | None


def deploy(bundle_dir: Path, target: SshTarget, token: CancelToken, options: DeployOptions | None = None, *,
           passphrase: str | None = None) -> Job[DeployResult]:
    """The deployment job (see the module docstring); raises a `DeployError` the operator can act on."""
    manifest = verify_bundle(Path(bundle_dir))  # never ship a bundle that changed since it was written
    run = _Deployment(Path(bundle_dir), manifest, target, token, options or DeployOptions(), passphrase)
    return (yield from run.steps())


def new_release_id(manifest_sha256: str) -> str:
    """UTC time to the millisecond (names sort by age, and never collide in practice) and the bundle's manifest
    hash (which bundle it is, at a glance)."""
    now = time.time()
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{int(now * 1000) % 1000:03d}-{manifest_sha256[:8]}"


class _Deployment:
    """One run of the job: its state survives reconnections so that a retried step continues the work."""

    def __init__(self, bundle: Path, manifest: BundleManifest, target: SshTarget, token: CancelToken,
                 options: DeployOptions, passphrase: str | None) -> None:
        self.bundle, self.target, self.token, self.options = bundle, target, token, options
        self.passphrase = passphrase
        self.names = bundle_files(manifest)
        self.expected = {**manifest.files, MANIFEST: sha256_of(bundle / MANIFEST)}
        self.release_id = new_release_id(self.expected[MANIFEST])
        self.total_bytes = sum((bundle / name).stat().st_size for name in self.names)
        self.remote: Remote | None = None
        self.layout: releases.Layout | None = None
        self.previous: str | None = None
        self.engine_info: dict[str, Any] | None = None
        self.bytes_sent = 0
        self.attempts = 0
        self.activated = False
        self.log_lines: list[str] = []
        self.local_log = (Path(options.log_dir) / f"{target.host}-{self.release_id}.log"
                          if options.log_dir is not None else None)

    def steps(self) -> Generator[Progress, None, DeployResult]:
        started = time.monotonic()
        plan: list[tuple[str, Callable[[], Generator[Progress, None, None]]]] = [
            ("prepare", self._prepare), ("upload", self._upload), ("verify", self._verify),
            ("finalise", self._finalise)]
        if self.options.build:
            plan.append(("build", self._build))
        plan += [("activate", self._activate), ("prune", self._prune)]
        try:
            index = 0
            while index < len(plan):
                self.token.raise_if_cancelled()
                stage = "connect"
                try:
                    if self.remote is None:
                        yield self._note("connect", f"connecting to {self.target.label}")
                        client = open_client(self.target, self.passphrase)
                        self.remote = Remote(client, self.target.label, self.options.command_timeout)
                    stage = plan[index][0]
                    yield from plan[index][1]()
                    index += 1
                except ConnectionLost as lost:
                    self._disconnect()
                    yield from self._back_off(lost, stage)
            assert self.layout is not None
            yield self._note("done", f"deployed {self.release_id} to {self.target.host} in "
                                     f"{time.monotonic() - started:.1f} s")
            return DeployResult(self.target.host, self.release_id, self.layout.release, self.layout.current,
                                self.previous, self.engine_info is not None, self.engine_info, self.total_bytes,
                                self.bytes_sent, time.monotonic() - started, self.local_log)
        except BaseException as error:
            self._log("failed", str(error) or type(error).__name__)
            raise
        finally:
            self._disconnect()
            self._write_log()

    def _prepare(self) -> Generator[Progress, None, None]:
        remote = self._remote()
        self.layout = releases.Layout(releases.resolve_root(remote, self.options.remote_dir), self.release_id)
        needed = self.total_bytes + (2 * (self.bundle / GRAPH_FILE).stat().st_size + _ENGINE_HEADROOM
                                     if self.options.build else 0)
        subdirs = {str(PurePosixPath(name).parent) for name in self.names if "/" in name}
        self.previous = releases.prepare(remote, self.layout, subdirs, needed)
        active = f"{self.previous} stays active until this one is ready" if self.previous else "nothing active yet"
        yield self._note("prepare", f"uploading to {self.layout.partial} ({active})")

    def _upload(self) -> Generator[Progress, None, None]:
        plan = UploadPlan(self.bundle, self._layout().partial, self.names)
        self.bytes_sent += yield from self._logged(upload(self._remote(), plan, self.token))

    def _verify(self) -> Generator[Progress, None, None]:
        remote, partial = self._remote(), self._layout().partial
        for attempt in range(2):
            bad = releases.mismatches(self.expected, releases.checksums(remote, partial, self.names))
            if not bad:
                yield self._note("verify", f"all {len(self.names)} files match on the device (sha256)")
                return
            if attempt == 0:
                yield self._note("verify", f"{', '.join(bad)}: sha256 differs on the device; sending again")
                releases.remove_files(remote, partial, bad)
                self.bytes_sent += yield from self._logged(
                    upload(remote, UploadPlan(self.bundle, partial, bad), self.token))
        raise DeployError(f"{remote.label}: {', '.join(bad)} still differ from the bundle after a second upload "
                          f"(sha256 on the device); its storage may be failing. The active deployment is unchanged")

    def _finalise(self) -> Generator[Progress, None, None]:
        releases.finalise(self._remote(), self._layout())
        yield self._note("finalise", f"verified release in {self._layout().release}")

    def _build(self) -> Generator[Progress, None, None]:
        remote, layout, options = self._remote(), self._layout(), self.options
        command = (f"cd {shlex.quote(layout.release)} && exec python3 device/build_engine.py --bundle . "
                   f"--timeout {options.build_timeout:.0f} --opt-batch {options.opt_batch} "
                   f"--max-batch {options.max_batch}")
        yield self._note("build", f"building the TensorRT engine on {self.target.host} (minutes on a Jetson)")
        lines: list[str] = []
        output = remote.stream(command, timeout=options.build_timeout + 120.0, token=self.token)
        while True:
            try:
                line = next(output)
            except StopIteration as finished:
                status = finished.value
                break
            lines.append(line)
            if line.startswith(build_engine.RESULT_PREFIX):
                self.engine_info = json.loads(line.removeprefix(build_engine.RESULT_PREFIX))
            yield self._note("build", line)
        if status != build_engine.EXIT_OK or self.engine_info is None:
            reason, summary = _NOT_BUILT.get(status, ("build-failed", f"the build script exited with {status}"))
            detail = summary if reason == "no-trtexec" else _build_failure(lines, summary)
            raise EngineNotBuilt(
                f"{self.target.host}: the engine was not built: {detail}. The bundle arrived and was verified in "
                f"{layout.release}; the active deployment is unchanged. Build log: "
                f"{layout.release}/{build_engine.BUILD_LOG_FILE} on the device"
                + (f", {self.local_log} here" if self.local_log else ""),
                reason=reason, release=layout.release, log=str(self.local_log) if self.local_log else None)

    def _activate(self) -> Generator[Progress, None, None]:
        releases.activate(self._remote(), self._layout())
        self.activated = True
        was = f" (was {self.previous})" if self.previous else ""
        yield self._note("activate", f"{self._layout().current} -> releases/{self.release_id}{was}")

    def _prune(self) -> Generator[Progress, None, None]:
        removed = releases.prune(self._remote(), self._layout(), self.options.keep_releases, [self.previous])
        if removed:
            yield self._note("prune", f"removed old releases: {', '.join(removed)}")

    def _back_off(self, lost: ConnectionLost, step: str) -> Generator[Progress, None, None]:
        self.attempts += 1
        if self.attempts > self.options.retries:
            state = ("the new release is active" if self.activated
                     else "the active deployment on the device is unchanged")
            raise ConnectionFailed(f"{lost} during {step}; gave up after {self.attempts} attempts ({state})")
        delay = self.options.backoff_seconds * 2 ** (self.attempts - 1)
        yield self._note("retry", f"{lost} during {step}; reconnecting in {delay:.1f} s "
                                  f"(attempt {self.attempts + 1} of {self.options.retries + 1})")
        deadline = time.monotonic() + delay
        while (left := deadline - time.monotonic()) > 0:
            self.token.raise_if_cancelled()
            time.sleep(min(left, 0.05))

    def _logged(self, job: Generator[Progress, None, int]) -> Generator[Progress, None, int]:
        """Pass a sub-job's progress on, logging each new message once (not every chunk)."""
        while True:
            try:
                record = next(job)
            except StopIteration as finished:
                return finished.value
            if not self.log_lines or not self.log_lines[-1].endswith(record.message):
                self._log(record.stage, record.message)
            yield record

    def _note(self, stage: str, message: str) -> Progress:
        self._log(stage, message)
        return Progress(0, 0, message, stage=stage)

    def _log(self, stage: str, message: str) -> None:
        self.log_lines.append(f"{time.strftime('%H:%M:%S')} {stage}: {message}")

    def _write_log(self) -> None:
        """Write the local log; a log that cannot be written must not hide how the deployment itself went."""
        if self.local_log is not None:
            try:
                self.local_log.parent.mkdir(parents=True, exist_ok=True)
                self.local_log.write_text("\n".join(self.log_lines) + "\n")
            except OSError:
                self.local_log = None

    def _remote(self) -> Remote:
        assert self.remote is not None
        return self.remote

    def _layout(self) -> releases.Layout:
        assert self.layout is not None
        return self.layout

    def _disconnect(self) -> None:
        if self.remote is not None:
            remote, self.remote = self.remote, None
            try:
                remote.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may complain; it is gone either way
                pass


def _build_failure(lines: list[str], fallback: str) -> str:
    """The most telling line of a failed build: trtexec's last error ("[E] ..."), else the build script's."""
    trtexec_errors = [line.strip() for line in lines if "[E]" in line]
    script_errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    if trtexec_errors:
        return f"trtexec failed: {trtexec_errors[-1]}"
    return script_errors[-1] if script_errors else fallback
