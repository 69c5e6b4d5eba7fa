"""Run torch work as several single-threaded streams instead of one multi-threaded one.

PyTorch's CPU operators split each call across OpenMP threads that meet at a barrier when it ends. On a machine
that is shared (more runnable threads than cores) a barrier waits for the slowest thread to be scheduled again: with
2 cores and a load average of 12, a batch of EfficientNet-Lite0 embeddings took 450-500 ms per image on 2 OpenMP
threads, and 95-150 ms per image as 2 Python threads running single-threaded operators side by side (and a greedy
coreset step 25 ms against 7 ms). On a quiet machine both ways use every core. Torch releases the GIL inside its
operators, so Python threads do run in parallel here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


@contextmanager
def single_threaded_operators() -> Iterator[int]:
    """Make every torch operator single-threaded inside the block; yields the thread count it had (the number of
    workers to use instead). Process-wide: the block should be the only torch work running."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int,
                ahead: int) -> Iterator[Result]:
    """`function(item)` for each item on `workers` threads, results in the items' order, at most `ahead` items
    submitted beyond the one being waited for (which bounds memory). Closing the iterator early drops what was not
    started and waits for what was."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(function, item))
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
