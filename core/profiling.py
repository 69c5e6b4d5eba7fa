"""Resource measurements the benchmarks report: inference MACs, memory during a step, latency medians."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence

import psutil
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_macs(network: nn.Module, image_size: int) -> int:
    """Multiply-accumulates of one eval-mode forward pass on a 1 x 3 x S x S image (FLOPs / 2, as papers count)."""
    network.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        network(torch.zeros(1, 3, image_size, image_size))
    return counter.get_total_flops() // 2


def state_bytes(module: nn.Module) -> int:
    """Bytes of the module's state dict: every parameter and buffer (weights, BatchNorm statistics, memory banks,
    Gaussian statistics); a tensor shared by two submodules (PaSTe's common prefix) counts once."""
    seen: dict[tuple[int, int], int] = {}
    for tensor in module.state_dict().values():
        seen[(tensor.untyped_storage().data_ptr(), tensor.storage_offset())] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def footprint_mb(module: nn.Module) -> float:
    """`state_bytes` in MB of 2**20 bytes, as the PaSTe paper's 'memory footprint' counts it."""
    return state_bytes(module) / 2**20


def cumulative_mac_shares(layers: Sequence[nn.Module], image_size: int) -> list[float]:
    """For each layer of a flat layer sequence (run in order on a 1 x 3 x S x S image), the share of the whole
    sequence's MACs spent up to and including it. The PaSTe paper's `equiv` layer groups are the layers whose share is
    nearest WideResNet50's layer1/2/3 (18.4 %, 43.6 %, 80.6 %); for a fully convolutional network the shares hardly
    depend on S."""
    macs = []
    x = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        for layer in layers:
            layer.eval()
            with FlopCounterMode(display=False) as counter:
                x = layer(x)
            macs.append(counter.get_total_flops() // 2)
    total = sum(macs)
    running = 0
    shares = []
    for count in macs:
        running += count
        shares.append(running / total)
    return shares


class RssSampler:
    """Samples this process's resident memory in a background thread; `peak_mb` and `increase_mb` over the block.

    ru_maxrss cannot tell what one step added, because the process peak may have come earlier (loading images);
    sampling during the step can.

    Example:
        >>> with RssSampler() as memory:
        ...     train()
        >>> memory.increase_mb
    """

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.process = psutil.Process()
        self.baseline_mb = 0.0
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _read_mb(self) -> float:
        return self.process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, self._read_mb())

    def __enter__(self) -> "RssSampler":
        self.baseline_mb = self.peak_mb = self._read_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._read_mb())

    @property
    def increase_mb(self) -> float:
        return self.peak_mb - self.baseline_mb


def median_latency_ms(call: Callable[[], object], runs: int = 50, warmup: int = 5) -> dict[str, float]:
    """Median and 90th percentile wall time of `call()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))], "runs": runs}
