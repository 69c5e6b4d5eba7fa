"""Deploying to a real OpenSSH server on 127.0.0.1 standing in for the Jetson (its files are read back from this
machine's disk): a clean deploy, host-key and client-key problems, a connection cut mid-upload, unwritable and full
remote directories, a device without trtexec, and engine builds with a fake trtexec for TensorRT 8 and 10."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from deploy_testkit import SshServer, fake_trtexec, make_bundle, recorded_build_arguments

from core.bundle import DEVICE_SCRIPTS, MANIFEST, verify_bundle
from core.files import sha256_of
from core.deploy.connection import SshTarget, open_client
from core.deploy.errors import (AuthenticationFailed, ConnectionFailed, DeployError, EngineNotBuilt,
                                HostKeyMismatch, KeyNeedsPassphrase, UnknownHostKey)
from core.deploy.host_keys import trust_host_key
from core.deploy.push import DeployOptions, DeployResult, deploy
from core.deploy.remote import Remote
from core.deploy.upload import UploadPlan, upload
from core.errors import Cancelled
from core.jobs import CancelToken, Progress, run_to_end


def _deploy(bundle: Path, target: SshTarget, root: Path, *, on_progress: Callable[[Progress], object] | None = None,
            token: CancelToken | None = None, **options: object) -> DeployResult:
    settings = {"remote_dir": str(root), "build": False, "retries": 2, "backoff_seconds": 0.05,
                "command_timeout": 20.0, "log_dir": root.parent / "logs"}
    settings.update(options)
    job = deploy(bundle, target, token or CancelToken(), DeployOptions(**settings))
    return run_to_end(job, on_progress)


def _current(root: Path) -> str | None:
    link = root / "current"
    return os.readlink(link) if link.is_symlink() else None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "device" / "inspection-station"


def test_clean_deploy_files_match_by_sha256_on_the_device(sshd: SshServer, bundle: Path, root: Path) -> None:
    seen: list[Progress] = []
    result = _deploy(bundle, sshd.target(), root, on_progress=seen.append)
    release = root / "releases" / result.release_id
    assert result.release_path == str(release) and _current(root) == f"releases/{result.release_id}"
    assert result.previous_release is None and not result.engine_built
    manifest = verify_bundle(release)  # every file re-hashed on the device's disk
    assert sha256_of(release / MANIFEST) == sha256_of(bundle / MANIFEST)
    assert sorted(manifest.files) == [*(f"device/{name}" for name in DEVICE_SCRIPTS), "model.onnx"]
    uploads = [p for p in seen if p.stage == "upload"]
    assert uploads[-1].step == uploads[-1].total == result.bundle_bytes == result.bytes_sent
    assert {p.stage for p in seen} >= {"connect", "prepare", "upload", "verify", "activate", "done"}
    assert f"all {len(DEVICE_SCRIPTS) + 2} files match on the device" in result.local_log.read_text()
    # A second deploy switches `current`, keeps the first release, and prunes beyond `keep_releases`.
    second = _deploy(bundle, sshd.target(), root)
    assert second.previous_release == f"releases/{result.release_id}"
    assert _current(root) == f"releases/{second.release_id}"
    third = _deploy(bundle, sshd.target(), root, keep_releases=1)
    assert sorted(p.name for p in (root / "releases").iterdir()) == [second.release_id, third.release_id]


def test_unknown_host_key_stops_with_its_fingerprint_until_trusted(sshd: SshServer, bundle: Path,
                                                                    root: Path) -> None:
    sshd.known_hosts.write_text("")
    with pytest.raises(UnknownHostKey) as caught:
        _deploy(bundle, sshd.target(), root)
    unknown = caught.value
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{sshd.host_key}.pub"], capture_output=True, text=True,
                                 check=True).stdout.split()[1]
    assert (unknown.host, unknown.port, unknown.key_type) == (sshd.host, sshd.port, "ssh-ed25519")
    assert unknown.fingerprint == fingerprint and fingerprint in str(unknown)
    assert not root.exists() and sshd.known_hosts.read_text() == ""
    trust_host_key(unknown.host, unknown.port, unknown.key_type, unknown.key_base64, sshd.known_hosts)
    assert _deploy(bundle, sshd.target(), root).release_id


def test_changed_host_key_is_refused(sshd: SshServer, bundle: Path, root: Path, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "old")], check=True)
    key_type, key_base64 = (tmp_path / "old.pub").read_text().split()[:2]
    sshd.known_hosts.write_text(f"[{sshd.host}]:{sshd.port} {key_type} {key_base64}\n")
    before = sshd.known_hosts.read_text()
    with pytest.raises(HostKeyMismatch, match="the host key changed") as caught:
        _deploy(bundle, sshd.target(), root)
    assert "ssh-keygen -R" in str(caught.value) and caught.value.fingerprint != caught.value.known_fingerprint
    assert sshd.known_hosts.read_text() == before and not root.exists()


def test_wrong_client_key_is_refused(sshd: SshServer, bundle: Path, root: Path, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "stranger")], check=True)
    with pytest.raises(AuthenticationFailed, match="refused key .*stranger"):
        _deploy(bundle, sshd.target(key_path=tmp_path / "stranger"), root)
    assert not root.exists()


def test_encrypted_client_key_asks_for_its_passphrase(sshd: SshServer, bundle: Path, root: Path,
                                                       tmp_path: Path) -> None:
    key = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "open sesame", "-f", str(key)], check=True)
    with (sshd.root / "authorized_keys").open("a") as authorized:
        authorized.write(key.with_suffix(".pub").read_text())
    with pytest.raises(KeyNeedsPassphrase, match="the key is encrypted"):
        _deploy(bundle, sshd.target(key_path=key), root)
    options = DeployOptions(remote_dir=str(root), build=False, log_dir=tmp_path / "logs")
    with pytest.raises(KeyNeedsPassphrase, match="does not unlock"):
        run_to_end(deploy(bundle, sshd.target(key_path=key), CancelToken(), options, passphrase="wrong"))
    result = run_to_end(deploy(bundle, sshd.target(key_path=key), CancelToken(), options, passphrase="open sesame"))
    assert _current(root) == f"releases/{result.release_id}"


def _after_first_file(action: Callable[[], None]) -> Callable[[Progress], None]:
    done = []

    def watch(record: Progress) -> None:
        if record.stage == "upload" and record.message.startswith("uploaded ") and not done:
            done.append(record)
            action()

    return watch


def test_server_stopped_mid_upload_leaves_previous_deployment_active(sshd: SshServer, tmp_path: Path,
                                                                     root: Path) -> None:
    first = _deploy(make_bundle(tmp_path, "first"), sshd.target(), root)
    seen: list[Progress] = []

    def watch(record: Progress) -> None:
        seen.append(record)
        stop(record)

    stop = _after_first_file(sshd.stop)
    with pytest.raises(ConnectionFailed, match="gave up after 3 attempts .*active deployment on the device is "
                                               "unchanged"):
        _deploy(make_bundle(tmp_path, "second", channels=8), sshd.target(), root, on_progress=watch)
    assert sum(p.stage == "retry" for p in seen) == 2
    assert _current(root) == f"releases/{first.release_id}"
    leftovers = sorted(p.name for p in (root / "releases").iterdir())
    assert leftovers[0] == first.release_id and leftovers[1].endswith(".partial") and len(leftovers) == 2
    assert verify_bundle(root / "current")  # the active deployment is whole


def test_dropped_connection_resumes_the_upload(sshd: SshServer, bundle: Path, root: Path) -> None:
    seen: list[Progress] = []
    drop = _after_first_file(sshd.drop_sessions)

    def watch(record: Progress) -> None:
        seen.append(record)
        drop(record)

    result = _deploy(bundle, sshd.target(), root, on_progress=watch)
    messages = [p.message for p in seen]
    assert any(p.stage == "retry" for p in seen)
    assert any(m.endswith("already on the device") for m in messages)  # the first file was not sent again
    assert result.bytes_sent < 2 * result.bundle_bytes
    assert _current(root) == f"releases/{result.release_id}" and verify_bundle(root / "current")


def test_file_damaged_on_the_device_is_caught_by_its_sha256_and_sent_again(sshd: SshServer, bundle: Path,
                                                                             root: Path) -> None:
    seen: list[Progress] = []

    def damage() -> None:  # same size, other bytes: only the checksum on the device can tell
        partial = next((root / "releases").glob("*.partial"))
        uploaded = next(p for p in sorted(partial.rglob("*")) if p.is_file())
        uploaded.write_bytes(bytes(len(uploaded.read_bytes())))

    corrupt = _after_first_file(damage)
    result = _deploy(bundle, sshd.target(), root, on_progress=lambda p: (seen.append(p), corrupt(p)))
    assert any("sha256 differs on the device; sending again" in p.message for p in seen)
    assert verify_bundle(root / "current") and result.bytes_sent > result.bundle_bytes


def test_upload_continues_a_file_cut_short(sshd: SshServer, bundle: Path, tmp_path: Path) -> None:
    """What a dropped connection leaves: half a file on the device. Only the rest is sent."""
    remote_dir = tmp_path / "partial"
    (remote_dir / "device").mkdir(parents=True)
    graph = (bundle / "model.onnx").read_bytes()
    (remote_dir / "model.onnx").write_bytes(graph[: len(graph) // 2])
    remote = Remote(open_client(sshd.target()), "test", timeout=20.0)
    try:
        sent = run_to_end(upload(remote, UploadPlan(bundle, str(remote_dir), ["model.onnx"]), CancelToken()))
    finally:
        remote.close()
    assert sent == len(graph) - len(graph) // 2 and (remote_dir / "model.onnx").read_bytes() == graph


def test_another_users_home_is_refused(sshd: SshServer, bundle: Path, tmp_path: Path) -> None:
    with pytest.raises(DeployError, match="another user's ~ is not supported"):
        _deploy(bundle, sshd.target(), Path("~nobody/deploy"), log_dir=tmp_path / "logs")


def test_silent_server_times_out_within_bounds(bundle: Path, root: Path) -> None:
    """A host that accepts TCP but never speaks SSH: each attempt ends at the time-out, the retries are bounded."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        target = SshTarget("127.0.0.1", "nobody", listener.getsockname()[1], connect_timeout=0.3)
        with pytest.raises(ConnectionFailed, match="gave up after 2 attempts"):
            _deploy(bundle, target, root, retries=1)


def test_cancel_during_upload_changes_nothing_active(sshd: SshServer, tmp_path: Path, root: Path) -> None:
    first = _deploy(make_bundle(tmp_path, "first"), sshd.target(), root)
    token = CancelToken()
    with pytest.raises(Cancelled):
        _deploy(make_bundle(tmp_path, "second", channels=8), sshd.target(), root, token=token,
                on_progress=_after_first_file(token.cancel))
    assert _current(root) == f"releases/{first.release_id}"


def test_remote_dir_that_cannot_be_a_directory(sshd: SshServer, bundle: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(DeployError, match=r"cannot create .*a-file/deploy/releases/.*Not a directory"):
        _deploy(bundle, sshd.target(), blocker / "deploy", log_dir=tmp_path / "logs")


@contextlib.contextmanager
def _mounted(arguments: list[list[str]], where: Path) -> Iterator[None]:
    """Run mount commands (root only); skip the test, with the reason, where mounting is not allowed."""
    for command in arguments:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip(f"cannot {' '.join(command)} here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_read_only_remote_dir_keeps_previous_deployment(sshd: SshServer, tmp_path: Path, root: Path) -> None:
    first = _deploy(make_bundle(tmp_path, "first"), sshd.target(), root)
    with _mounted([["mount", "--bind", str(root), str(root)],
                   ["mount", "-o", "remount,bind,ro", str(root)]], root):
        with pytest.raises(DeployError, match="Read-only file system"):
            _deploy(make_bundle(tmp_path, "second", channels=8), sshd.target(), root)
        assert _current(root) == f"releases/{first.release_id}"


def test_full_disk_is_reported_before_uploading(sshd: SshServer, tmp_path: Path, root: Path) -> None:
    root.mkdir(parents=True)
    with _mounted([["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(root)]], root):
        first = _deploy(make_bundle(tmp_path, "first"), sshd.target(), root)  # fits without an engine
        with pytest.raises(DeployError, match=r"not enough disk space in .*MB needed, .*MB free"):
            _deploy(make_bundle(tmp_path, "second", channels=8), sshd.target(), root, build=True)
        assert _current(root) == f"releases/{first.release_id}"
        assert sorted(p.name for p in (root / "releases").iterdir()) == [first.release_id]


def test_device_without_trtexec_gets_the_bundle_but_no_engine(sshd: SshServer, bundle: Path, root: Path) -> None:
    with pytest.raises(EngineNotBuilt, match="the engine was not built: trtexec was not found") as caught:
        _deploy(bundle, sshd.target(), root, build=True)
    release = Path(caught.value.release)
    assert caught.value.reason == "no-trtexec" and _current(root) is None
    verify_bundle(release)  # the bundle arrived whole
    assert "trtexec not found" in (release / "build.log").read_text()
    assert "trtexec not found" in Path(caught.value.log).read_text()
    assert not (release / "model.engine").exists()


@pytest.mark.parametrize("banner, version, expected, absent", [
    ("v8502", "8.5.2", ["--int8", "--fp16"], ["--stronglyTyped"]),
    ("v100300", "10.3.0", ["--stronglyTyped"], ["--int8", "--fp16"]),
])
def test_engine_built_on_the_device_with_the_flags_of_its_tensorrt(sshd: SshServer, bundle: Path, root: Path,
                                                                   banner: str, version: str, expected: list,
                                                                   absent: list) -> None:
    fake_trtexec(sshd.bin_dir, banner)
    lines: list[str] = []
    result = _deploy(bundle, sshd.target(), root, build=True, max_batch=2,
                     on_progress=lambda p: lines.append(p.message) if p.stage == "build" else None)
    arguments = recorded_build_arguments(sshd.bin_dir)
    release = Path(result.release_path)
    assert all(flag in arguments for flag in expected) and not set(absent) & set(arguments)
    assert f"--onnx={release}/model.onnx" in arguments and "--maxShapes=image:2x3x32x32" in arguments
    assert result.engine_built and result.engine_info["tensorrt"] == version
    assert (release / "model.engine").read_bytes() == b"engine bytes"
    assert any("&&&& PASSED" in line for line in lines)  # trtexec's output streamed back
    assert _current(root) == f"releases/{result.release_id}"


def test_failed_build_keeps_previous_deployment_and_both_logs(sshd: SshServer, tmp_path: Path, root: Path) -> None:
    first = _deploy(make_bundle(tmp_path, "first"), sshd.target(), root)
    fake_trtexec(sshd.bin_dir, "v8502", status=1)
    with pytest.raises(EngineNotBuilt, match="trtexec failed") as caught:
        _deploy(make_bundle(tmp_path, "second", precision="int8"), sshd.target(), root, build=True)
    assert caught.value.reason == "build-failed"
    assert _current(root) == f"releases/{first.release_id}"
    assert "fake parser failure" in (Path(caught.value.release) / "build.log").read_text()
    assert "fake parser failure" in Path(caught.value.log).read_text()
