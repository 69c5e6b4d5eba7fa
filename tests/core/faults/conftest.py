"""Fixtures for the fault tests: a tiny real model and bundle (PatchCore, 32 px, random weights: seconds to make)
that each test copies and then tries to destroy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.export.variants import VariantSpec, export_variant_job
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.training import train_job
from faults_testkit import IMAGE_SIZE
from tests.core.sources.sources_testkit import striped_image


@pytest.fixture(scope="session")
def normal_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faults-data") / "stripes"
    folder.mkdir()
    rng = np.random.default_rng(7)
    for index in range(8):
        Image.fromarray(striped_image(rng, size=IMAGE_SIZE)).save(folder / f"{index:02d}.png")
    return folder


@pytest.fixture(scope="session")
def good_model(tmp_path_factory: pytest.TempPathFactory, normal_images: Path) -> Path:
    config = ModelConfig(method="patchcore", image_size=IMAGE_SIZE)
    target = tmp_path_factory.mktemp("faults-model") / "model"
    return run_to_end(train_job(config, [normal_images], target, weights="random")).model_dir


@pytest.fixture(scope="session")
def good_bundle(tmp_path_factory: pytest.TempPathFactory, good_model: Path) -> Path:
    target = tmp_path_factory.mktemp("faults-bundle") / "bundle"
    return run_to_end(export_variant_job(good_model, VariantSpec(precision="fp32"), target))


@pytest.fixture
def model_copy(tmp_path: Path, good_model: Path) -> Path:
    """A good model in a folder of its own, for a test to write over."""
    return Path(shutil.copytree(good_model, tmp_path / "models" / "line-a"))


@pytest.fixture
def bundle_copy(tmp_path: Path, good_bundle: Path) -> Path:
    return Path(shutil.copytree(good_bundle, tmp_path / "bundles" / "line-a-fp32"))

