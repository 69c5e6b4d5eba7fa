"""The live loop over a real model: every stage timed, verdicts against the operator's threshold, NG frames saved."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from sources_testkit import write_video

from core.jobs import CancelToken
from core.overlay import heat_levels, normalise_map
from core.runtime import open_runtime
from core.sources import FrameResult, LiveSettings, SourceStatus, inspect_stream, open_source
from core.sources.base import FAILED, Frame
from core.sources.live import category_of, inspect_frame


def test_a_video_is_inspected_frame_by_frame(tiny_model: Path, tmp_path: Path) -> None:
    runtime = open_runtime(tiny_model)
    video = write_video(tmp_path / "line.avi", frames=12)
    settings = LiveSettings.for_runtime(runtime)
    events = list(inspect_stream(runtime, open_source(str(video), pace_video=False), settings))
    results = [event for event in events if isinstance(event, FrameResult)]
    assert [result.index for result in results] == list(range(1, 13))
    first = results[0]
    assert first.heat.shape == (64, 64) and first.heat.dtype == np.uint8
    assert first.frame.image.shape == (72, 96, 3)
    # resized on the capture thread, so that it overlaps the previous frame's inference; it is what was scored
    assert np.shares_memory(first.frame.model_input, first.model_input) and first.model_input.shape == (64, 64, 3)
    assert first.timings.capture_ms > 0 and first.timings.inference_ms > 0 and first.timings.post_ms >= 0
    scores, _ = runtime.predict(cv2.resize(first.frame.image, (64, 64))[None])
    # the engine resizes with Pillow, the test with OpenCV: close, not equal
    assert first.score == pytest.approx(float(scores[0]), rel=0.1, abs=1e-3)
    assert any(isinstance(event, SourceStatus) and event.state == "ended" for event in events)


def test_threshold_changes_apply_and_ng_frames_are_saved_with_overlay(tiny_model: Path, tmp_path: Path) -> None:
    runtime = open_runtime(tiny_model)
    video = write_video(tmp_path / "line.avi", frames=8)
    settings = LiveSettings(threshold=1e9, map_low=runtime.map_low)
    stream = inspect_stream(runtime, open_source(str(video), pace_video=False), settings, CancelToken())
    verdicts = []
    for event in stream:
        if isinstance(event, FrameResult):
            verdicts.append(event.verdict)
            if event.index == 3:  # the operator drags the threshold to 0 and asks for NG frames to be saved
                settings.threshold, settings.save_ng_to = 0.0, tmp_path / "ng"
            if event.is_ng:
                assert event.thumbnail is not None and event.saved_to is not None and event.saved_to.is_file()
    assert verdicts == ["OK"] * 3 + ["NG"] * 5
    saved = sorted((tmp_path / "ng").glob("*.png"))
    assert len(saved) == 5 and cv2.imread(str(saved[0])).shape == (72, 96, 3)


def test_cancel_stops_a_live_stream_quickly(tiny_model: Path, tmp_path: Path) -> None:
    runtime = open_runtime(tiny_model)
    video = write_video(tmp_path / "line.avi", frames=40, fps=20.0)
    token = CancelToken()
    seen = 0
    stream = inspect_stream(runtime, open_source(str(video)), LiveSettings(runtime.threshold), token)
    for event in stream:
        if isinstance(event, FrameResult):
            seen += 1
            if seen == 3:
                token.cancel()
    assert seen == 3


def test_a_failing_source_ends_the_stream_with_its_reason(tiny_model: Path, tmp_path: Path) -> None:
    runtime = open_runtime(tiny_model)
    fake = tmp_path / "clip.avi"
    fake.write_bytes(b"\x00" * 1000)
    try:
        source = open_source(str(fake))
    except Exception as error:  # OpenCV may refuse it at open already; then the message names the file
        assert "clip.avi" in str(error)
        return
    events = list(inspect_stream(runtime, source, LiveSettings(runtime.threshold)))
    assert any(isinstance(event, SourceStatus) and event.state == FAILED and "clip.avi" in event.message
               for event in events)


def test_category_is_known_from_the_path() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    frame = Frame(image, 1, "003.png", Path("/data/cup/test/crack/003.png"))
    assert category_of(frame, ["brick", "cup"]) == "cup"
    assert category_of(frame, ["brick"]) == ""
    assert category_of(Frame(image, 1, "camera #1"), ["cup"]) == ""


def test_a_known_category_is_judged_by_its_own_threshold_scaled_by_the_slider(tiny_model: Path) -> None:
    runtime = open_runtime(tiny_model)
    image = np.zeros((64, 64, 3), np.uint8)
    score = float(runtime.predict(image[None])[0][0])
    settings = LiveSettings(threshold=runtime.threshold, category_thresholds={"stripes": score * 2},
                            model_threshold=runtime.threshold)
    known = Frame(image, 1, "a.png", path=Path("/line/stripes/a.png"))
    unknown = Frame(image, 2, "b.png", path=Path("/line/other/b.png"))
    assert inspect_frame(runtime, known, settings).threshold == pytest.approx(score * 2)
    assert inspect_frame(runtime, known, settings).verdict == "OK"
    assert inspect_frame(runtime, unknown, settings).threshold == runtime.threshold
    settings.threshold = runtime.threshold / 4  # the operator lowers the overall threshold to a quarter
    assert inspect_frame(runtime, known, settings).threshold == pytest.approx(score / 2)
    assert inspect_frame(runtime, known, settings).verdict == "NG"


def test_a_unified_model_directory_carries_category_thresholds(tiny_model: Path) -> None:
    assert set(open_runtime(tiny_model).category_thresholds) == {"stripes"}


def test_heat_levels_are_the_normalised_map_in_255_steps() -> None:
    anomaly_map = np.random.default_rng(0).normal(0.5, 0.4, (64, 64)).astype(np.float32)
    expected = np.round(normalise_map(anomaly_map, 0.2, 0.9) * 255).astype(np.uint8)
    levels = heat_levels(anomaly_map, 0.2, 0.9)
    assert levels.dtype == np.uint8 and levels.shape == (64, 64)
    assert int(np.abs(levels.astype(int) - expected).max()) <= 1  # round-half-even against half-up, nothing more
    assert levels[anomaly_map <= 0.2].max() == 0 and levels[anomaly_map >= 0.9].min() == 255
