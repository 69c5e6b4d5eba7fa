"""Where the cells run: `local` (child processes on this machine) or `ray` (Ray tasks, here or on a cluster).

An executor's one verb is `run(cells, out, options, cancel)`, an iterator of records in the order cells finish.
"""

from __future__ import annotations

from core.benchmark.executors.local import LocalExecutor
from core.benchmark.executors.ray_tasks import RayExecutor

EXECUTORS = ("local", "ray")
