"""Drive a job generator from the command line: one tqdm bar per stage, with ETA; Ctrl-C cancels cleanly."""

from __future__ import annotations

import sys
from typing import TypeVar

from tqdm import tqdm

from core.jobs import Job, Progress

Result = TypeVar("Result")


def run_with_bars(job: Job[Result], quiet: bool = False) -> Result:
    """Run `job` to its end, showing its progress on stderr; returns what the job returns."""
    bar: tqdm | None = None
    stage = None
    try:
        while True:
            try:
                record: Progress = next(job)
            except StopIteration as stop:
                return stop.value
            if quiet:
                continue
            if record.stage != stage or bar is None or (record.total and bar.total != record.total):
                if bar is not None:
                    bar.close()
                stage = record.stage
                bar = tqdm(total=record.total or None, desc=record.stage or "working", file=sys.stderr,
                           dynamic_ncols=True, leave=False, disable=None, mininterval=0.5)
            bar.n = record.step
            postfix = {key: f"{value:.4g}" for key, value in record.metrics.items()}
            bar.set_postfix_str(" ".join(f"{k}={v}" for k, v in postfix.items()) or record.message, refresh=False)
            bar.refresh()
    finally:
        if bar is not None:
            bar.close()
        job.close()  # on Ctrl-C this runs the job's own clean-up (temporary files are removed)
