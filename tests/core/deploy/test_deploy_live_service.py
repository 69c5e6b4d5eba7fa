"""Live inspection as a service on the device, managed over the loopback sshd: deploy --start-live, device status,
logs, stop, a live.py that dies being restarted, and one that keeps failing saying why. That sshd has no systemd
user session, so these runs use the supervised process (as a Jetson without a desktop login would)."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from deploy_testkit import SshServer, use_this_python_on_the_device, write_video

from core.commands import deploy, device
from core.deploy.live_service import LiveOptions, unit_text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="core")
    subparsers = parser.add_subparsers(dest="command")
    deploy.register(subparsers)
    device.register(subparsers)
    return parser


def _login(sshd: SshServer, root: Path) -> list[str]:
    return ["--host", sshd.host, "--port", str(sshd.port), "--user", sshd.user, "--key", str(sshd.client_key),
            "--known-hosts", str(sshd.known_hosts), "--remote-dir", str(root)]


def _device(sshd: SshServer, root: Path, *action: str) -> int:
    args = _parser().parse_args(["device", *_login(sshd, root), *action])
    return args.run(args)


def _wait(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the device did not get there in time"
        time.sleep(0.1)


@pytest.fixture
def device_python(sshd: SshServer, tmp_path: Path) -> Iterator[None]:
    """The device's python3 is this one; afterwards no supervisor a failed test left behind keeps running."""
    use_this_python_on_the_device(sshd)
    yield
    for pid_file in tmp_path.glob("*/live/supervisor.pid"):
        try:
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))


def test_unit_is_generated_and_verified(tmp_path: Path) -> None:
    text = unit_text("/home/nvidia/inspection-station", LiveOptions(source="file:///data/a 100%.mp4",
                                                                     category="cup", restart_sec=3),
                     python=sys.executable)
    assert "Restart=on-failure" in text and "RestartSec=3" in text and "StartLimitBurst=5" in text
    assert (f"ExecStart={sys.executable} /home/nvidia/inspection-station/current/device/live.py --bundle "
            "/home/nvidia/inspection-station/current --source \"file:///data/a 100%%.mp4\"") in text
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here")
    unit = tmp_path / "inspection-live.service"
    unit.write_text(text)
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    done = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert done.returncode == 0 and unit.name not in done.stderr, done.stderr  # warnings name the file
    broken = tmp_path / "broken.service"
    broken.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    done = subprocess.run(["systemd-analyze", "verify", "--user", str(broken)], capture_output=True, text=True,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)}, timeout=60)
    assert "broken.service" in done.stderr  # the check above can fail


def test_start_status_logs_restart_and_stop(sshd: SshServer, device_python: None, bundle: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root, video = tmp_path / "device", write_video(tmp_path / "line.avi", frames=20)
    args = _parser().parse_args(["deploy", "--model", str(bundle), *_login(sshd, root), "--no-build",
                                 "--log-dir", str(tmp_path / "logs"), "--start-live", f"file://{video}", "--loop",
                                 "--headless", "--restart-sec", "0.2"])
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "live: live inspection: running as a supervised process (no systemd user session" in out
    state = root / "live"
    _wait(lambda: (state / "status.json").exists() and json.loads((state / "status.json").read_text())
          .get("frames", 0) > 2)
    assert _device(sshd, root, "status") == 0
    out = capsys.readouterr().out
    assert "running as a supervised process" in out and f"release: releases/" in out
    assert "state: running" in out and "FPS " in out and "latency ms: capture" in out and "process_rss_mb" in out
    assert "last verdict: " in out and "restarted 0 times" in out

    # live.py dies: the supervisor starts it again, and status says how it ended
    child = json.loads((state / "supervisor.json").read_text())["child_pid"]
    os.kill(child, signal.SIGKILL)
    _wait(lambda: json.loads((state / "supervisor.json").read_text()).get("restarts") == 1
          and json.loads((state / "supervisor.json").read_text()).get("state") == "running")
    assert _device(sshd, root, "status") == 0
    out = capsys.readouterr().out
    assert "restarted 1 times, last killed by signal 9" in out and "last exit: " in out

    assert _device(sshd, root, "logs", "--lines", "20") == 0
    out = capsys.readouterr().out
    assert "-- live/live.log --" in out and "supervisor: starting" in out and "live: releases" not in out
    assert "ONNX Runtime" in out

    # a new deployment switches `current`: live inspection restarts on the new release
    first = os.readlink(root / "current")
    args = _parser().parse_args(["deploy", "--model", str(bundle), *_login(sshd, root), "--no-build",
                                 "--log-dir", str(tmp_path / "logs")])
    assert args.run(args) == 0
    assert "live inspection restarted on the new release (process)" in capsys.readouterr().out
    second = os.readlink(root / "current")
    assert second != first
    _wait(lambda: json.loads((state / "status.json").read_text()).get("release") == Path(second).name
          and json.loads((state / "status.json").read_text()).get("state") == "running")

    assert _device(sshd, root, "stop") == 0
    assert capsys.readouterr().out.strip() == "stopped (process)"
    assert not (state / "supervisor.pid").exists()
    assert _device(sshd, root, "status") == 0
    assert "live inspection: not running" in capsys.readouterr().out
    assert _device(sshd, root, "stop") == 0
    assert "was not running" in capsys.readouterr().out


def test_a_source_that_keeps_failing_gives_up_and_says_why(sshd: SshServer, device_python: None, bundle: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "device"
    args = _parser().parse_args(["deploy", "--model", str(bundle), *_login(sshd, root), "--no-build",
                                 "--log-dir", str(tmp_path / "logs")])
    assert args.run(args) == 0
    capsys.readouterr()
    assert _device(sshd, root, "start", "--source", "file:///nowhere/line.mp4", "--headless",
                   "--restart-sec", "0.05") == 0
    capsys.readouterr()
    supervisor = root / "live" / "supervisor.json"
    _wait(lambda: json.loads(supervisor.read_text()).get("state") == "gave-up", seconds=45)
    assert _device(sshd, root, "status") == 0
    out = capsys.readouterr().out
    assert "live inspection: not running" in out and "supervisor: gave-up, restarted 4 times" in out
    assert "last error: " in out and "live.py failed: SourceProblem: /nowhere/line.mp4: no such file" in out
    assert "gave up after 5 failures" in out


def test_start_before_any_deploy_is_refused(sshd: SshServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _device(sshd, tmp_path / "device", "start", "--source", "csi://0") == 1
    assert "current/device/live.py not found: deploy a bundle first" in capsys.readouterr().err
