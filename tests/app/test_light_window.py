"""A light window (issue 14): opening it and inspecting with ONNX Runtime never load the training side.

The real `python -m app --startup-report` runs in a process of its own (this test process has torch loaded
already), on a tiny real model and a real video; the report lists the heavy modules found in its `sys.modules`.
The import-linter contract that says the same of the code is checked to bite.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from app_testkit import write_video

from app.startup_report import heavy_modules_loaded
from tests.core.test_import_layers import copy_code, lint_imports

REPO = Path(__file__).resolve().parents[2]
CONTRACT = "Opening the window and inspecting never import the training side"
RSS_LIMIT_MB = 400  # issue 14's target, for the demo model; the tiny model needs less


def test_the_window_inspects_with_onnx_runtime_without_the_training_side(tiny_model: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "line.avi", frames=30)
    result = subprocess.run(
        [sys.executable, "-m", "app", "--startup-report", "--model", str(tiny_model), "--source", f"file://{video}",
         "--runtime", "onnxruntime", "--frames", "3"],
        capture_output=True, text=True, cwd=REPO, timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    report = result.stdout
    assert "on onnxruntime, inspecting" in report and video.name in report
    assert "heavy modules loaded: none" in report  # torch, timm, torchvision, ray, matplotlib, sklearn, training
    window, first = (float(re.search(rf"{what}: ([\d.]+) s", report).group(1))
                     for what in ("time to window", "time to first frame"))
    assert 0 < window <= first
    rss = re.search(r"RSS while inspecting: (\d+) MB \(after (\d+) frames", report)
    assert rss is not None and int(rss.group(2)) >= 3 and 50 < int(rss.group(1)) <= RSS_LIMIT_MB


def test_a_source_that_does_not_open_is_a_one_line_error(tiny_model: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.avi"
    result = subprocess.run(
        [sys.executable, "-m", "app", "--startup-report", "--model", str(tiny_model), "--source", f"file://{missing}"],
        capture_output=True, text=True, cwd=REPO, timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path)})
    assert result.returncode == 2 and result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: inspection stopped after 0 of 10 frames") and str(missing) in last


def test_the_report_would_name_torch_if_it_were_loaded() -> None:
    assert "torch" in sys.modules  # this process trained the tiny model
    assert "torch" in heavy_modules_loaded()


def test_a_lazy_torch_import_on_the_inspect_path_breaks_the_contract(tmp_path: Path) -> None:
    """A copy of the code whose readouts import torch inside a function (as the GPU readout once did)."""
    copy_code(tmp_path)
    readouts = tmp_path / "app" / "widgets" / "readouts.py"
    readouts.write_text(readouts.read_text() + "\n\ndef _gpu() -> None:\n    import torch  # noqa: F401\n")
    result = lint_imports(tmp_path)
    assert f"{CONTRACT} BROKEN" in result.stdout
    assert "app.widgets.readouts -> torch" in result.stdout


def test_times_count_from_the_process_start() -> None:
    """A fresh process's age, read by the report's clock: within what its parent measured around it (psutil's
    create_time, off by up to a second of boot-time rounding, would not be)."""
    code = "from app.startup_report import seconds_since_process_start as age; print(age())"
    started = time.perf_counter()
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}, check=True)
    elapsed = time.perf_counter() - started
    assert 0 < float(output.stdout) <= elapsed + 0.02  # the kernel counts in 10 ms ticks
