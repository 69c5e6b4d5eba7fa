"""The engine jobs the window runs in a child process, as module-level functions (pickled by name) in a module
without Qt, so that the process that runs them never loads the UI libraries."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

from core.evaluation import evaluate_job
from core.jobs import CancelToken, Progress
from core.methods.config import ModelConfig
from core.model_store import load_model
from core.training import TrainResult, train_job


def training_job(config: ModelConfig, folders: list[Path], out_dir: Path, weights: str,
                 cancel: CancelToken) -> Generator[Progress, None, TrainResult]:
    """Train one unified model on `folders` into `out_dir` (see `core.training.train_job`)."""
    return train_job(config, folders, out_dir, cancel, weights=weights)


def evaluation_job(
    model_dir: Path, folders: list[Path], cancel: CancelToken
) -> Generator[Progress, None, dict[str, Any]]:
    """Per-category metrics of the model in `model_dir`, and the scores behind its ROC curves."""
    return evaluate_job(load_model(model_dir), folders, cancel)


def teaching_job(model_dir: Path, frames: list[Any], audit_db: Path | None, reason: str | None,
                 cancel: CancelToken) -> Generator[Progress, None, Any]:
    """Teach the model in `model_dir` that `frames` are good, checked, as a new version (`core.teaching.job`)."""
    from core.teaching.job import teach_job

    return teach_job(model_dir, frames, audit_db=audit_db, reason=reason, cancel=cancel)


def fine_tuning_job(model_dir: Path, epochs: int | None, audit_db: Path | None,
                    cancel: CancelToken) -> Generator[Progress, None, Any]:
    """Fine-tune the model in `model_dir` on its kept frames, checked, as a new version (`core.teaching.fine_tune`)."""
    from core.teaching.fine_tune import fine_tune_job

    return fine_tune_job(model_dir, epochs, audit_db=audit_db, cancel=cancel)


def grid_job(spec: dict[str, Any], out: Path, executor: str, ray_address: str | None, workers: int,
             cancel: CancelToken) -> Generator[Progress, None, list[dict[str, Any]]]:
    """Run (or resume) the benchmark grid `spec` (`GridSpec`'s fields by name) into `out`; returns its records.

    The benchmark package is imported here, when a grid starts, not with this module: the window imports this
    module at start-up and should not pay for the benchmark (or Ray) until it is used.
    """
    from core.benchmark.grid import GridSpec
    from core.benchmark.runner import run_grid

    grid = GridSpec(**{name: tuple(value) if isinstance(value, list) else value for name, value in spec.items()})
    return run_grid(grid, Path(out), executor=executor, ray_address=ray_address, workers=workers, cancel=cancel)
