"""Fixtures for the bad-input tests: one tiny real model (PatchCore, 32 px, random weights, trained through the
command line itself), a small MVTec-layout category, and the deployment tests' loopback SSH server."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest
from bad_input_testkit import run_cli

from tests.conftest import make_mvtec_category

# The deployment tests' kit (tiny bundles, a real sshd on 127.0.0.1) and their `sshd` fixture, reused as they are.
_DEPLOY_TESTS = Path(__file__).resolve().parents[1] / "deploy"
sys.path.insert(0, str(_DEPLOY_TESTS))
_spec = importlib.util.spec_from_file_location("deploy_tests_conftest", _DEPLOY_TESTS / "conftest.py")
_deploy_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_deploy_conftest)
sshd = _deploy_conftest.sshd


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input-model")
    category = make_mvtec_category(root / "data", "stripes", size=32, train=8, good=2, bad=2, seed=1)
    model = root / "model"
    result = run_cli("train", "--data", category, "--method", "patchcore", "--image-size", 32, "--weights", "random",
                     "--out", model)
    assert result.code == 0, result.err
    return model


@pytest.fixture
def existing_model(tiny_model: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model where a command's --out points: a failed run must leave it as it was."""
    return Path(shutil.copytree(tiny_model, tmp_path / "existing-model"))


@pytest.fixture
def category(tmp_path: Path) -> Path:
    """A valid MVTec-layout category (32 px, 8 normal training images, 2 good and 2 defective test images)."""
    return make_mvtec_category(tmp_path / "data", "stripes", size=32, train=8, good=2, bad=2, seed=2)
