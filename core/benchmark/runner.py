"""Run a benchmark grid: skip the cells OUT/results.json has done, run the others on an executor, rewrite the
results after every cell, then write results.csv, the figures (where `core.benchmark.figures` is present) and
report.md.

Example:
    >>> records = run_to_end(run_grid(spec, Path("bench"), executor="ray"))
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

from core.benchmark.attempt import CellOptions
from core.benchmark.executors import EXECUTORS, LocalExecutor, RayExecutor
from core.benchmark.grid import Cell, GridSpec, cells
from core.benchmark.report import write_report
from core.benchmark.results import read_results, write_csv, write_results
from core.errors import InputError
from core.jobs import CancelToken, Progress


def _executor(name: str, ray_address: str | None, workers: int | None, cpus_per_cell: float,
              gpus_per_cell: float) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor(workers or 1)
    if name == "ray":
        return RayExecutor(ray_address, workers, cpus_per_cell, gpus_per_cell)
    raise InputError(f"unknown executor '{name}' (choose from {', '.join(EXECUTORS)})")


def default_cpus_per_cell(executor: str, ray_address: str | None, workers: int | None) -> int:
    """This machine's CPUs shared by the cells running at once; 2 per cell on a cluster the driver cannot see."""
    if executor == "ray" and ray_address:
        return 2
    return max(1, (os.cpu_count() or 1) // (workers or 1))


def _done(record: dict[str, Any] | None, cell: Cell) -> bool:
    """A record that answers this cell: done, on the same data at the same size (a unified cell's name does not
    say which folders it was trained on)."""
    return (record is not None and record.get("status") == "done" and record.get("image_size") == cell.image_size
            and record.get("data") == [str(path) for path in cell.data])


def write_outputs(out: Path, records: list[dict[str, Any]]) -> None:
    """results.csv, the figures (when the figures module is installed beside this one) and report.md."""
    write_csv(out, records)
    try:
        from core.benchmark.figures import write_figures  # written by the Benchmark page's work (issue 11)
    except ImportError:
        pass
    else:
        write_figures(records, out)
    write_report(out, records)


def run_grid(
    spec: GridSpec,
    out: Path,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int | None = 1,
    cancel: CancelToken | None = None,
    cpus_per_cell: float | None = None,
    gpus_per_cell: float = 0,
    latency_runs: int = 50,
) -> Generator[Progress, None, list[dict[str, Any]]]:
    """Run every cell of `spec` not yet done in OUT/results.json; returns all records, the grid's in its order."""
    cancel = cancel or CancelToken()
    out = Path(out)
    grid = cells(spec)
    out.mkdir(parents=True, exist_ok=True)
    records = {record["name"]: record for record in read_results(out)}
    pending = [cell for cell in grid if not _done(records.get(cell.name), cell)]
    done = len(grid) - len(pending)
    if cpus_per_cell is None:
        cpus_per_cell = default_cpus_per_cell(executor, ray_address, workers)
    options = CellOptions(threads=max(1, int(cpus_per_cell)), latency_runs=latency_runs)
    yield Progress(done, len(grid), f"{done} of {len(grid)} cells done, {len(pending)} to run", stage="grid")

    def ordered() -> list[dict[str, Any]]:
        names = [cell.name for cell in grid]
        return [records[name] for name in names if name in records] + [
            record for name, record in records.items() if name not in names]  # earlier grids' cells are kept

    if pending:
        runner = _executor(executor, ray_address, workers, cpus_per_cell, gpus_per_cell)
        for record in runner.run(pending, out, options, cancel):
            if record["error"] == "cancelled":
                continue
            records[record["name"]] = record
            write_results(out, ordered())
            done += 1
            yield Progress(done, len(grid), f"{record['name']}: {record['status']}", stage="grid")
    result = ordered()
    write_outputs(out, result)
    return result
