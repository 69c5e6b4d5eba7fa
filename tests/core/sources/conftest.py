"""Fixtures for the frame-source tests: a tiny real model (PatchCore, 64 px, random weights: seconds to make) and
real video files written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sources_testkit import striped_image, write_video

from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sources-model")
    folder = root / "data" / "stripes"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for index in range(10):
        Image.fromarray(striped_image(rng)).save(folder / f"{index:02d}.png")
    config = ModelConfig(method="patchcore", image_size=64)
    return run_to_end(train_job(config, [folder], root / "model", weights="random")).model_dir


@pytest.fixture
def video_file(tmp_path: Path) -> Path:
    return write_video(tmp_path / "line.avi", frames=20)
