"""The device's live inspection script, run as the device runs it: the copy in a bundle, with no `core` on the path,
on a real video and a real folder, through ONNX Runtime (TensorRT is absent here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from deploy_testkit import NORMALISATION, input_spec, make_graph, write_video

from core.bundle import write_bundle
from core.deploy.device.live_record import NgFolder, VerdictLog, parse_tegrastats
from core.model_manifest import Thresholds


@pytest.fixture
def live_bundle(tmp_path: Path) -> Path:
    """A bundle whose overall threshold nothing reaches and whose "cup" threshold everything does."""
    graph = make_graph(tmp_path / "g.onnx")
    return write_bundle(graph, tmp_path / "release", precision="fp32", input_spec=input_spec(),
                        thresholds=Thresholds(image=1e6, map_low=0.0, per_category={"cup": -1e6}),
                        categories=["cup", "gravel"], normalisation=NORMALISATION)


def run_live(bundle: Path, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """live.py from the bundle's device/ folder, from another directory, without the package on the path."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}
    return subprocess.run([sys.executable, str(bundle / "device" / "live.py"), "--bundle", str(bundle), *args],
                          cwd="/", env=environment, capture_output=True, text=True, timeout=timeout)


def test_headless_on_a_video_writes_status_verdicts_and_a_screenshot(live_bundle: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "line.avi")
    state, shot = tmp_path / "state", tmp_path / "shot.png"
    done = run_live(live_bundle, "--source", f"file://{video}", "--headless", "--max-frames", "4",
                    "--screenshot", str(shot), "--screenshot-after", "3", "--state-dir", str(state))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "TensorRT not used: no model.engine" in done.stdout and "ONNX Runtime" in done.stdout
    status = json.loads((state / "status.json").read_text())
    assert status["window"] == "Window"  # headless: drawn, not shown
    assert status["state"] == "stopped" and status["frames"] == 4 and status["release"] == "release"
    assert set(status["latency_ms"]) == {"capture", "pre", "engine", "post", "total"}
    assert status["latency_ms"]["engine"] > 0 and status["memory"]["process_rss_mb"] > 10
    verdicts = [json.loads(line) for line in (state / "verdicts.jsonl").read_text().splitlines()]
    assert len(verdicts) == 4 and {v["verdict"] for v in verdicts} == {"OK"}  # overall threshold 1e6
    image = cv2.imread(str(shot))
    assert image.shape == (720, 1280, 3) and image.std() > 20  # banner, frame and text: not blank
    assert (state / "overlay.jpg").stat().st_size > 1000


def test_folder_images_are_all_inspected_with_their_category_threshold(live_bundle: Path, tmp_path: Path) -> None:
    folder = tmp_path / "images" / "cup"
    folder.mkdir(parents=True)
    for index in range(4):
        cv2.imwrite(str(folder / f"{index}.png"), np.full((40, 48, 3), 40 * index, np.uint8))
    state = tmp_path / "state"
    done = run_live(live_bundle, "--source", f"file://{folder.parent}/", "--headless", "--max-frames", "4",
                    "--state-dir", str(state), "--ng-max-mb", "0.000001")
    assert done.returncode == 0, done.stdout + done.stderr
    verdicts = [json.loads(line) for line in (state / "verdicts.jsonl").read_text().splitlines()]
    assert [Path(v["name"]).name for v in verdicts] == ["0.png", "1.png", "2.png", "3.png"]  # none dropped
    assert {(v["category"], v["threshold"], v["verdict"]) for v in verdicts} == {("cup", -1e6, "NG")}
    assert len(list((state / "ng").iterdir())) == 1  # the size cap keeps only the newest


def test_a_bad_source_fails_with_a_readable_reason(live_bundle: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = run_live(live_bundle, "--source", f"file://{tmp_path}/missing.mp4", "--headless",
                    "--state-dir", str(state))
    assert done.returncode == 1 and "missing.mp4: no such file" in done.stderr
    assert json.loads((state / "status.json").read_text())["state"] == "failed"
    assert "live.py failed: SourceProblem:" in (state / "reason.txt").read_text()


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed here")
def test_window_under_xvfb(live_bundle: Path, tmp_path: Path) -> None:
    video, shot = write_video(tmp_path / "line.avi"), tmp_path / "shot.png"
    done = subprocess.run(["xvfb-run", "-a", sys.executable, str(live_bundle / "device" / "live.py"), "--bundle",
                           str(live_bundle), "--source", f"file://{video}", "--max-frames", "4", "--screenshot",
                           str(shot), "--screenshot-after", "2", "--state-dir", str(tmp_path / "state")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert cv2.imread(str(shot)).std() > 20
    status = json.loads((tmp_path / "state" / "status.json").read_text())
    assert status["window"] in ("OpenCvWindow", "TkWindow") and status["frames"] == 4  # a real window was shown


def test_verdict_log_rotates_by_size(tmp_path: Path) -> None:
    log = VerdictLog(str(tmp_path / "v.jsonl"), max_bytes=200, keep=2)
    for index in range(40):
        log.write({"frame": index, "verdict": "OK"})
    log.close()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == ["v.jsonl", "v.jsonl.1", "v.jsonl.2"]
    assert all(path.stat().st_size < 240 for path in tmp_path.iterdir())
    lines = [line for name in ("v.jsonl.2", "v.jsonl.1", "v.jsonl") for line in (tmp_path / name).read_text().split()]
    frames = [json.loads(line)["frame"] for line in lines]
    assert frames == list(range(frames[0], 40)) and frames[0] > 0  # the newest kept in order, the oldest gone


def test_ng_folder_removes_the_oldest_beyond_its_cap(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    folder = NgFolder(str(tmp_path / "ng"), max_bytes=8000)
    for index in range(5):
        folder.save(f"{index}.png", image)
    kept = sorted(path.name for path in (tmp_path / "ng").iterdir())
    assert kept[-1] == "4.png" and "0.png" not in kept
    assert sum(path.stat().st_size for path in (tmp_path / "ng").iterdir()) <= 8000


def test_tegrastats_line_is_read() -> None:
    line = ("RAM 2345/7773MB (lfb 4x4MB) SWAP 0/3886MB CPU [12%@1190,5%@1190] EMC_FREQ 0% GR3D_FREQ 45% "
            "CPU@40C")
    assert parse_tegrastats(line) == {"shared_ram_used_mb": 2345.0, "shared_ram_total_mb": 7773.0,
                                      "gpu_load_percent": 45.0}


def test_device_modules_agree_on_the_state_files() -> None:
    """The device modules stay importable on their own (the feed and the supervisor need only the standard
    library), so they repeat a few file names; the station reads the same names through them."""
    from core.deploy.device import live_feed, live_record, live_supervisor

    assert live_feed.STATUS_FILE == live_record.STATUS_FILE and live_feed.OVERLAY_FILE == live_record.OVERLAY_FILE
    assert live_supervisor.REASON_FILE == live_record.REASON_FILE
