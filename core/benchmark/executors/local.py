"""Cells as child processes of this machine, `workers` at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from core.benchmark.attempt import CellOptions, run_cell_process
from core.benchmark.grid import Cell
from core.jobs import CancelToken


class LocalExecutor:
    def __init__(self, workers: int = 1) -> None:
        self.workers = max(1, workers)

    def run(self, cells: Sequence[Cell], out: Path, options: CellOptions,
            cancel: CancelToken) -> Iterator[dict[str, Any]]:
        pool = ThreadPoolExecutor(self.workers)
        try:
            running: set[Future] = {pool.submit(run_cell_process, cell, out, options, lambda: cancel.cancelled)
                                    for cell in cells}
            while running:
                finished, running = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                cancel.raise_if_cancelled()  # the running cells see the token too, and stop their processes
                for future in finished:
                    yield future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # cells not started yet never start
