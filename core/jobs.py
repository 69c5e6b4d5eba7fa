"""Long jobs as plain generators: they yield `Progress` records and check a `CancelToken` between steps.

The CLI drives them with a tqdm bar, the Qt app on a worker thread; neither needs to know what the job does.

Example:
    >>> token = CancelToken()
    >>> def job(token):
    ...     for step in range(3):
    ...         token.raise_if_cancelled()
    ...         yield Progress(step + 1, 3, "counting")
    ...     return "finished"
    >>> result = run_to_end(job(token))
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, TypeVar

from core.errors import Cancelled

Result = TypeVar("Result")


@dataclass(frozen=True)
class Progress:
    """One step of a long job. `total` is 0 when the length is unknown; `metrics` carries e.g. the current loss."""

    step: int
    total: int
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    stage: str = ""


class CancelToken:
    """Thread-safe flag a job checks between steps; cancelling makes its next check raise `Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user")


Job = Generator[Progress, None, Result]


def run_to_end(job: Job[Result], on_progress: Callable[[Progress], Any] | None = None) -> Result:
    """Drive a job generator to its end and return the value it returns."""
    while True:
        try:
            record = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(record)
