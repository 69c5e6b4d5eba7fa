"""The grid on a real Ray cluster on this machine: `python -m core benchmark --executor ray --ray-address ADDR` joins a
Ray head this test starts (and stops), and its records equal the local executor's but for the timings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from tests.core.benchmark.conftest import GRID, records_of

REPO = Path(__file__).resolve().parents[3]
TIMINGS = ("peak_training_rss_mb", "fit_rss_increase_mb", "fit_seconds_per_image", "latency_ms")


@pytest.fixture(scope="module")
def ray_head() -> Iterator[str]:
    """A Ray head on this machine with two CPUs, run by this process: shutting it down stops only what it started.

    On its own node address, not 127.0.0.1: a second process joining a head forced onto loopback waits forever for a
    raylet at the machine's address (Ray 2.52)."""
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths live under it
    context = ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp,
                       configure_logging=False)
    try:
        yield context.address_info["gcs_address"]
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def test_a_grid_on_ray_matches_the_local_run(ray_head: str, local_grid: Path, grid_data: list[Path],
                                             tmp_path: Path) -> None:
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "core", "benchmark", "--data", *map(str, grid_data), *GRID, "--out", str(out),
               "--executor", "ray", "--ray-address", ray_head]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    # About 40 s on a quiet machine, but several minutes at load 6 (a Ray worker runs torch on one thread).
    result = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    on_ray, local = records_of(out), records_of(local_grid)
    assert list(on_ray) == list(local)
    for name, record in on_ray.items():
        expected = local[name]
        assert record["status"] == "done" and record["attempts"] == 1
        assert record["metrics"] == expected["metrics"]  # the accuracy columns, exactly
        assert record["model_dir"].startswith(str(out))
        for key, value in record["resources"].items():
            if key not in TIMINGS:
                assert value == expected["resources"][key], key
    assert (out / "results.csv").is_file() and (out / "report.md").is_file()

    # The same command again resumes: nothing left to run, nothing rewritten.
    before = (out / "results.json").read_text()
    again = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "results.json").read_text() == before
