"""`python -m app.soak`: a short real soak of the window (MainWindow off screen on a looping video)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_testkit import write_video

from app.soak import main
from core.soak import CPU, LATENCY, UI


def test_a_short_window_soak_reports_memory_latency_and_qt_objects(qapp, tiny_model: Path, tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    video = write_video(tmp_path / "line.avi", frames=24)  # every third frame has a defect: NG thumbnails too
    out = tmp_path / "soak.json"
    status = main(["--model", str(tiny_model), "--source", str(video), "--frames", "200", "--warm-up", "40",
                   "--json", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert status == (0 if report["passed"] else 1) and report["window"] is True
    assert report["frames"] >= 200 and report["warm_up"] == 40 and report["qt_platform"] == "offscreen"
    assert report["dropped"]["at capture"] == 0  # unpaced: every frame of the looping video is inspected
    assert report["trends"][LATENCY]["count"] >= 200 and report["trends"][UI]["count"] > 0
    assert report["trends"][CPU]["count"] > 0 and report["trends"][CPU]["median_ms"] > 0
    assert 0 < report["rss"]["start_mb"] <= report["rss"]["peak_mb"]
    warm, end = report["qt_objects"]
    assert end <= warm + 5, "widgets pile up while inspecting"
    assert 0 < report["ng_thumbnails"] <= 8
    assert "Qt objects" in printed and "window update per batch, UI-thread CPU" in printed and "RSS: start" in printed


def test_soak_lengths_that_make_no_sense_are_refused(capsys: pytest.CaptureFixture) -> None:
    assert main(["--frames", "0"]) == 2
    assert "--frames 0" in capsys.readouterr().err


def test_a_missing_model_or_video_is_a_one_line_error(qapp, tiny_model: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    assert main(["--model", str(tmp_path / "no-model"), "--frames", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: model not loaded") and "no-model" in err and len(err.splitlines()) == 1
    assert main(["--model", str(tiny_model), "--source", str(tmp_path / "none.avi"), "--frames", "10"]) == 2
    assert "none.avi: video file does not exist" in capsys.readouterr().err
