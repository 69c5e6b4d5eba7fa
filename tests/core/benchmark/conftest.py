"""One small real grid, run once for the benchmark tests: STFPM and PaSTe, unified over two tiny categories, 64 px,
random weights, one epoch, each cell in its own process (the local executor, two at a time)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from tests.conftest import make_mvtec_category

GRID = ["--methods", "stfpm", "paste", "--backbones", "tf_efficientnet_lite0", "--layers", "equiv",
        "--settings", "unified", "--image-size", "64", "--epochs", "1", "--weights", "random",
        "--latency-runs", "5", "--cpus-per-cell", "1"]


@pytest.fixture(scope="session")
def grid_data(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("grid-data")
    return [make_mvtec_category(root, "stripes", seed=1), make_mvtec_category(root, "waves", seed=2)]


@pytest.fixture(scope="session")
def local_grid(grid_data: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUT of the grid run by `python -m core benchmark` with the local executor."""
    out = tmp_path_factory.mktemp("grid-local")
    assert main(["benchmark", "--data", *map(str, grid_data), *GRID, "--out", str(out), "--workers", "2"]) == 0
    return out


def records_of(out: Path) -> dict[str, dict]:
    return {record["name"]: record for record in json.loads((out / "results.json").read_text())["cells"]}
