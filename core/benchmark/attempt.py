"""Run one cell in a child process, once more if it fails, and turn the outcome into its results record.

Both executors call `run_cell_process` (the Ray one inside a task), so a cell's record is the same wherever it ran,
timings aside. The child gets its own session, so stopping a cell stops its training grandchild too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.benchmark.grid import Cell

ATTEMPTS = 2  # a failed cell is retried once, then recorded as failed
ENGINE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding `core`


def engine_pythonpath() -> str:
    """PYTHONPATH that imports this engine, wherever a child or a Ray worker starts (its cwd is not ours)."""
    return os.pathsep.join(filter(None, [ENGINE_ROOT, os.environ.get("PYTHONPATH")]))


@dataclass(frozen=True)
class CellOptions:
    """How a cell process runs: its CPU threads (so that a local and a Ray run compute alike) and latency runs."""

    threads: int = 1
    latency_runs: int = 50


def _environment(options: CellOptions) -> dict[str, str]:
    environment = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        environment[name] = str(options.threads)
    environment["PYTHONPATH"] = engine_pythonpath()
    return environment


def _error_of(stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return (lines[-1] if lines else f"exit code {code}").removeprefix("error: ")


def _one_attempt(cell: Cell, out: Path, options: CellOptions,
                 cancelled: Callable[[], bool]) -> tuple[dict[str, Any] | None, str | None]:
    if cancelled():
        return None, "cancelled"
    with tempfile.TemporaryDirectory() as scratch:
        record_file = Path(scratch) / "record.json"
        command = [sys.executable, "-m", "core.benchmark.cell", "--cell", json.dumps(cell.to_json()),
                   "--out", str(out), "--record", str(record_file), "--latency-runs", str(options.latency_runs)]
        with tempfile.TemporaryFile("w+") as stderr:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True,
                                       env=_environment(options), start_new_session=True)
            try:
                while process.poll() is None:
                    if cancelled():
                        return None, "cancelled"
                    time.sleep(0.2)
            finally:
                if process.poll() is None:  # cancelled, or this task was interrupted: stop the cell and its children
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            stderr.seek(0)
            if process.returncode != 0:
                return None, _error_of(stderr.read(), process.returncode)
        return json.loads(record_file.read_text()), None


def run_cell_process(cell: Cell, out: Path, options: CellOptions = CellOptions(),
                     cancelled: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    """The cell's record: status "done" with its figures, or "failed" with the error of its last attempt."""
    started = time.perf_counter()
    error = None
    for attempt in range(1, ATTEMPTS + 1):
        figures, error = _one_attempt(cell, Path(out), options, cancelled)
        if figures is not None or error == "cancelled":
            break
    base = {"name": cell.name, "method": cell.method, "backbone": cell.backbone, "layer_group": cell.layer_group,
            "setting": cell.setting, "layers": list(cell.layers), "image_size": cell.image_size,
            "data": [str(path) for path in cell.data], "attempts": attempt,
            "seconds": round(time.perf_counter() - started, 1)}
    if figures is None:
        return {**base, "status": "failed", "error": error, "model_dir": None, "cpu": None, "metrics": None,
                "resources": None}
    return {**base, "status": "done", "error": None, **figures}
