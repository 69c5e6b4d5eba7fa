"""A real drifting video through `python -m core inspect`: a steady stretch of normal parts, a brightness ramp, then
a blur. The alarm must go up for brightness on the ramp and for sharpness on the blur, and never on the steady part.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job
from tests.conftest import make_mvtec_category

SIZE = 64
STEADY, RAMP, BLUR = 100, 80, 80  # frames in each part, in this order
WINDOW = 60
DRIFT_LINE = re.compile(r"drift (\w+) at frame (\d+): PSI (.*) \(last")


@pytest.fixture(scope="module")
def drift_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PatchCore at 64 px with random weights, on 100 normal images (the reference the video is judged by)."""
    root = tmp_path_factory.mktemp("drift-model")
    category = make_mvtec_category(root / "data", "stripes", train=100, good=1, bad=1, seed=1)
    config = ModelConfig(method="patchcore", image_size=SIZE)
    return run_to_end(train_job(config, [category], root / "model", weights="random")).model_dir


def drifting_frames(folder: Path) -> list[np.ndarray]:
    """New normal parts (not the training images): steady, then brighter frame by frame up to +70 grey levels, then
    at normal brightness but blurred."""
    parts = make_mvtec_category(folder, "line", train=STEADY + RAMP + BLUR, good=0, bad=0, seed=9)
    images = [np.asarray(Image.open(path)) for path in sorted((parts / "train/good").glob("*.png"))]
    frames = images[:STEADY]
    for step, image in enumerate(images[STEADY : STEADY + RAMP], start=1):
        frames.append(np.clip(image.astype(np.int16) + round(70 * step / RAMP), 0, 255).astype(np.uint8))
    frames += [cv2.GaussianBlur(image, (0, 0), 1.2) for image in images[STEADY + RAMP :]]
    return frames


def write_lossless_video(path: Path, frames: list[np.ndarray]) -> Path:
    """FFV1 AVI: lossless, so the frames decode to exactly the pixels drawn (MJPG would soften every frame)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (SIZE, SIZE))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def drift_lines(stderr: str) -> list[tuple[int, str, str]]:
    """(frame, overall level, the PSI text) of every drift line."""
    return [(int(match[2]), match[1].lower(), match[3]) for match in DRIFT_LINE.finditer(stderr)]


def alarmed(psi_text: str) -> set[str]:
    return {part.split()[0] for part in psi_text.split(", ") if part.endswith(" alarm")}


def test_brightness_ramp_then_blur_raise_their_alarms_and_the_steady_part_none(
    drift_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = write_lossless_video(tmp_path / "line.avi", drifting_frames(tmp_path / "parts"))
    assert main(["inspect", "--model", str(drift_model), "--source", f"file://{video}", "--no-pace",
                 "--drift-window", str(WINDOW), "--no-audit"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == STEADY + RAMP + BLUR  # stdout: the frame lines, nothing else
    lines = drift_lines(captured.err)
    assert lines, captured.err
    steady = [line for line in lines if line[0] <= STEADY]
    assert steady and all(level != "alarm" for _, level, _ in steady), captured.err  # no false alarm
    assert steady[-1][1] == "ok", captured.err
    # the score is judged too, against the out-of-fold normal scores the thresholds were chosen from
    assert "score n/a" not in steady[-1][2], captured.err
    brightness = [frame for frame, _, text in lines if "brightness" in alarmed(text)]
    sharpness = [frame for frame, _, text in lines if "sharpness" in alarmed(text)]
    assert brightness and STEADY < brightness[0] <= STEADY + RAMP, captured.err
    assert sharpness and STEADY + RAMP < sharpness[0] <= STEADY + RAMP + BLUR, captured.err
    # The blur hides from the score (this model's NG rate does not climb on it): only the statistics see it.
    verdicts = [" NG " in line for line in captured.out.splitlines()]
    assert sum(verdicts[STEADY + RAMP :]) / BLUR <= sum(verdicts[:STEADY]) / STEADY + 0.1
    print(f"alarm delay: brightness {brightness[0] - STEADY} frames into the ramp, sharpness "
          f"{sharpness[0] - STEADY - RAMP} frames into the blur")


def test_a_model_whose_data_folders_are_gone_inspects_with_drift_off(
    drift_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = shutil.copytree(drift_model, tmp_path / "model")
    data = tmp_path / "moved-away"
    shutil.move(str(drift_model.parent / "data"), data)  # the model names folders that are no longer there
    try:
        image = tmp_path / "part.png"
        shutil.copy(next((data / "stripes" / "train" / "good").glob("*.png")), image)
        # A station whose cache has no reference for this model: it must be built, and cannot be.
        assert main(["inspect", "--model", str(model), "--source", str(image), "--no-audit",
                     "--audit", str(tmp_path / "other" / "audit.sqlite")]) == 0
    finally:
        shutil.move(str(data), drift_model.parent / "data")
    captured = capsys.readouterr()
    assert "drift off: the training images of" in captured.err and "stripes" in captured.err
    assert len(captured.out.splitlines()) == 1
