"""Soak statistics on tiny synthetic series (a leak fails, flat memory passes, a creeping latency is caught, noise
and a late burst of load are not), and a short real soak through `python -m core bench-live --frames`."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.soak import (CPU, LATENCY, RSS_GROWTH_LIMIT_PCT, SoakRecorder, latency_trend, rss_figures,
                       theil_sen)
from core.training import train_job
from tests.conftest import make_mvtec_category
from tests.core.sources.sources_testkit import write_video

FRAMES = 10_000


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PatchCore at 64 px with random weights: a real model directory in seconds."""
    root = tmp_path_factory.mktemp("soak-model")
    category = make_mvtec_category(root / "data", "stripes", seed=1)
    config = ModelConfig(method="patchcore", image_size=64)
    return run_to_end(train_job(config, [category], root / "model", weights="random")).model_dir


def _noisy_latency(rng: np.random.Generator, base: np.ndarray) -> np.ndarray:
    """Shared-machine noise: log-normal jitter on every frame and 2 % of frames five times slower."""
    values = base * rng.lognormal(0.0, 0.15, base.size)
    spikes = rng.random(base.size) < 0.02
    values[spikes] *= 5
    return values


def test_theil_sen_finds_the_line_through_a_fifth_of_wild_points() -> None:
    x = np.arange(50, dtype=float)
    y = 3.0 + 0.5 * x
    y[::5] += 100  # 20 % outliers would tilt a least-squares fit, not the median of pairwise slopes
    slope, low, high = theil_sen(x, y)
    assert slope == pytest.approx(0.5)
    assert low <= 0.5 <= high and high - low < 0.2


def test_flat_noisy_latency_has_no_trend() -> None:
    rng = np.random.default_rng(0)
    frames = np.arange(1, FRAMES + 1)
    trend = latency_trend(frames, _noisy_latency(rng, np.full(FRAMES, 20.0)))
    assert trend.direction == "none"
    assert abs(trend.rise_pct) < 3 and abs(trend.decile_change_pct) < 3
    assert trend.median_ms == pytest.approx(20.0, rel=0.05)


def test_creeping_latency_is_a_rising_trend() -> None:
    rng = np.random.default_rng(1)
    frames = np.arange(1, FRAMES + 1)
    trend = latency_trend(frames, _noisy_latency(rng, np.linspace(20.0, 26.0, FRAMES)))  # +30 % over the run
    assert trend.direction == "rising"
    assert trend.slope_ms_per_1000 == pytest.approx(0.6, rel=0.15) and trend.slope_low > 0
    assert trend.last_decile_ms > trend.first_decile_ms * 1.2


def test_a_burst_of_load_at_the_end_or_a_tiny_drift_is_not_a_trend() -> None:
    rng = np.random.default_rng(2)
    frames = np.arange(1, FRAMES + 1)
    burst = np.full(FRAMES, 20.0)
    burst[-800:] = 32.0  # another user's job in the last 8 % of the run: the deciles see it, the slope does not
    trend = latency_trend(frames, _noisy_latency(rng, burst))
    assert trend.decile_change_pct > 30 and trend.rise_pct < 10 and trend.direction == "none"
    drift = latency_trend(frames, _noisy_latency(rng, np.linspace(20.0, 22.0, FRAMES)))  # +10 %: load-sized
    assert drift.direction == "none"
    falling = latency_trend(frames, _noisy_latency(rng, np.linspace(30.0, 20.0, FRAMES)))
    assert falling.direction == "falling"


def test_leaking_memory_fails_and_flat_memory_passes() -> None:
    rng = np.random.default_rng(3)
    frames = np.arange(0, FRAMES + 500 + 1, 10)
    flat = 400.0 + rng.normal(0, 1.5, frames.size)  # the allocator breathes by a few MB
    leaking = 400.0 + 0.003 * np.maximum(frames - 500, 0) + rng.normal(0, 1.5, frames.size)  # 3 kB a frame
    assert rss_figures(350.0, frames, flat, warm_up=500).passed
    leak = rss_figures(350.0, frames, leaking, warm_up=500)
    assert not leak.passed and leak.growth_pct > RSS_GROWTH_LIMIT_PCT
    assert leak.slope_mb_per_1000 == pytest.approx(3.0, rel=0.1) and leak.start_mb == 350.0


def test_recorder_measures_after_warm_up_and_reports_as_text_and_json() -> None:
    reads = itertools.count()  # memory grows by 1 MB at every read: about 20 % from warm-up to the end

    recorder = SoakRecorder(frames=200, warm_up=50, read_rss=lambda: 100.0 + next(reads))
    recorder.start()
    for frame in range(1, 251):
        recorder.add(LATENCY, frame, 10.0 + (frame % 7) * 0.1)
        recorder.sample_rss(frame)
    report = recorder.report({"at capture": 0}, source="synthetic")
    assert report.frames == 200 and report.warm_up == 50
    assert report.trends[LATENCY].count == 200 and report.verdict(LATENCY) == ("no trend", True)
    assert report.rss.start_mb == 100.0 and report.rss.warm_mb > report.rss.start_mb
    assert report.python_objects[0] > 1000 and report.python_objects[1] > 1000
    assert not report.passed  # memory grew on every read
    lines = report.lines()
    assert lines[1].startswith("RSS: start 100.0 MB") and lines[1].endswith("FAIL") and lines[-1].startswith("soak FAIL")
    document = json.loads(json.dumps(report.to_dict()))
    assert document["passed"] is False and document["source"] == "synthetic"
    assert [frame for frame, _ in document["rss_trace"]][:7] == [1, 11, 21, 31, 41, 50, 60]  # 50: end of warm-up
    assert document["rss_trace"][-1][0] == 250


def _report_of(latency: np.ndarray, cpu: np.ndarray) -> object:
    recorder = SoakRecorder(frames=latency.size, warm_up=0, read_rss=lambda: 100.0)
    recorder.start()
    for frame, (wall_ms, cpu_ms) in enumerate(zip(latency, cpu), start=1):
        recorder.add(LATENCY, frame, wall_ms)
        recorder.add(CPU, frame, cpu_ms)
        recorder.sample_rss(frame, every=100)
    return recorder.report()


def test_wall_clock_latency_rising_with_flat_cpu_time_is_the_machines_load() -> None:
    rng = np.random.default_rng(4)
    loaded = _noisy_latency(rng, np.linspace(20.0, 40.0, 2000))  # another user's job ramps up
    flat_cpu = _noisy_latency(rng, np.full(2000, 15.0))
    report = _report_of(loaded, flat_cpu)
    assert report.trends[LATENCY].direction == "rising" and report.passed
    assert report.verdict(LATENCY) == ("rising with the machine's load (CPU time per frame does not rise)", True)
    more_work = _report_of(loaded, _noisy_latency(rng, np.linspace(15.0, 30.0, 2000)))  # the process itself slows
    assert not more_work.passed and more_work.verdict(CPU) == ("rising", False)
    assert more_work.verdict(LATENCY) == ("rising", False)
    assert "rising  FAIL" in "\n".join(more_work.lines())


def test_a_short_real_soak_through_the_command(tiny_model_dir: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    video = write_video(tmp_path / "line.avi", frames=25)  # loops: 300 frames come from 25
    out = tmp_path / "soak.json"
    status = main(["bench-live", "--model", str(tiny_model_dir), "--source", f"file://{video}", "--frames", "250",
                   "--warm-up", "50", "--json", str(out)])
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert status == (0 if report["passed"] else 1)
    assert report["frames"] == 250 and report["warm_up"] == 50 and report["dropped"] == {"at capture": 0}
    assert 0 < report["rss"]["start_mb"] <= report["rss"]["peak_mb"] and report["rss"]["end_mb"] > 0
    latency = report["trends"][LATENCY]
    assert latency["count"] == 250 and latency["median_ms"] > 0 and latency["direction"] in ("none", "rising",
                                                                                             "falling")
    assert report["trends"][CPU]["count"] == 250 and report["trends"][CPU]["median_ms"] > 0
    assert report["rss_trace"][-1][0] == 300 and report["runtime"] == "onnxruntime"
    assert "RSS: start" in printed and "after warm-up" in printed and "ms per 1000 frames" in printed
    warm, end = report["python_objects"]
    assert end < warm * 1.01, "Python objects pile up in the live loop"


def test_soak_lengths_that_make_no_sense_are_refused(tiny_model_dir: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as refused:  # argparse refuses it before anything is loaded
        main(["bench-live", "--model", str(tiny_model_dir), "--frames", "0"])
    assert refused.value.code == 2
    assert "argument --frames: must be a whole number from 1 to" in capsys.readouterr().err
