"""`python -m core inspect` prints one line per frame; `bench-live` reports frames per second and the split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job

LINE = re.compile(r"^frame +(\d+)  score +(\S+)  (OK|NG)  capture +[\d.]+ ms  inference +[\d.]+ ms  post +[\d.]+ ms")


@pytest.fixture
def model_dir(tiny_categories: list[Path], tmp_path: Path) -> Path:
    config = ModelConfig(method="patchcore", image_size=64)
    return run_to_end(train_job(config, tiny_categories[:1], tmp_path / "model", weights="random")).model_dir


def _video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (80, 64))
    for index in range(frames):
        writer.write(np.full((64, 80, 3), 10 * index, np.uint8))
    writer.release()
    return path


def test_inspect_prints_a_line_per_frame_and_bench_reports_fps(model_dir: Path, tiny_categories: list[Path],
                                                               tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    video = _video(tmp_path / "line.avi", frames=9)
    assert main(["inspect", "--model", str(model_dir), "--source", f"file://{video}", "--no-pace"]) == 0
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert [int(LINE.match(line).group(1)) for line in lines] == list(range(1, 10))
    assert "onnxruntime" in err and "9 frames" in err

    # A folder of MVTec test images: existing images are inspected, the category is printed, NG frames saved.
    folder = tiny_categories[0] / "test" / "spot"
    assert main(["inspect", "--model", str(model_dir), "--source", f"file://{folder}/", "--max-frames", "3",
                 "--threshold", "0", "--save-ng", str(tmp_path / "ng")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all(" NG " in line and line.endswith("stripes") for line in lines)
    assert len(list((tmp_path / "ng").glob("*_NG.png"))) == 3

    report = tmp_path / "bench.json"
    assert main(["bench-live", "--model", str(model_dir), "--source", f"file://{video}", "--seconds", "1",
                 "--runs", "2", "--json", str(report)]) == 0
    summary = json.loads(report.read_text())
    assert summary["runs"] == 2 and summary["runtime"] == "onnxruntime"
    assert summary["median"]["fps"] > 1 and summary["median"]["inference_ms"] > 0
    assert "frames/s" in capsys.readouterr().out


def test_a_source_that_fails_is_an_error(model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["inspect", "--model", str(model_dir), "--source", str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4: no such file or folder" in capsys.readouterr().err
