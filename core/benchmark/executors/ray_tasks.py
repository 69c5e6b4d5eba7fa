"""Cells as Ray tasks: a local Ray runtime sized to this machine, or an existing cluster (`address`).

Each task asks for its CPUs (and GPUs where configured) and runs the very child process a local run does, so the
records match a local run's, timings aside. Models are written under OUT by the node that trains them: on a cluster
OUT and the data must be on storage every node sees, at the same path. `ray` is imported here only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.benchmark.attempt import CellOptions, run_cell_process
from core.benchmark.grid import Cell
from core.errors import Cancelled, InputError
from core.jobs import CancelToken


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs the 'ray' package in this environment (pip install 'ray[default]'); "
                         "--executor local runs without it") from None
    return ray


class RayExecutor:
    def __init__(self, address: str | None = None, workers: int | None = None, cpus_per_cell: float = 1,
                 gpus_per_cell: float = 0) -> None:
        self.address = address
        self.workers = workers  # tasks in flight; None: as many as the cluster's resources schedule
        self.cpus_per_cell = cpus_per_cell
        self.gpus_per_cell = gpus_per_cell

    def _connect(self) -> bool:
        """Join the cluster or start a local runtime; True when this call started it (and so shuts it down)."""
        ray = _ray()
        if ray.is_initialized():
            return False
        # Workers import the engine from their node's environment (PYTHONPATH, or the project installed in the venv
        # `ray start` ran from); a runtime_env would need Ray's agent, which a minimal install does not run.
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        return True

    def run(self, cells: Sequence[Cell], out: Path, options: CellOptions,
            cancel: CancelToken) -> Iterator[dict[str, Any]]:
        ray = _ray()
        started_here = self._connect()
        task = ray.remote(run_cell_process).options(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell,
                                                     max_retries=0)  # the retry is run_cell_process's own
        waiting = list(cells)
        running: list[Any] = []
        try:
            while waiting or running:
                while waiting and (self.workers is None or len(running) < self.workers):
                    running.append(task.remote(waiting.pop(0), Path(out), options))
                finished, running = ray.wait(running, num_returns=1, timeout=0.5)
                if cancel.cancelled:
                    raise Cancelled("cancelled by the user")
                for reference in finished:
                    yield ray.get(reference)
        finally:
            for reference in running:  # cancelled or failed: interrupt the tasks, which stop their cell processes
                ray.cancel(reference)
            if running:
                ray.wait(running, num_returns=len(running), timeout=10)
            if started_here:
                ray.shutdown()
