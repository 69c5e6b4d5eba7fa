"""Where ONNX Runtime's time goes in a graph: its profiler's kernel times per operator type, convolutions split into
dense and depthwise (an INT8 graph gains most on dense ones), and what stays in float after ONNX Runtime fuses the
Q/DQ pairs (the nodes of the optimised graph by type).

Example:
    >>> profile = profile_graph(Path("bundles/line/model.onnx"), 256)       # doctest: +SKIP
    >>> print(profile.table())
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.runtime.onnx_backend import session_options

_CONVOLUTIONS = {"Conv", "FusedConv", "QLinearConv", "NhwcFusedConv", "ConvInteger"}
_WARM_UP_RUNS = 5


@dataclass(frozen=True)
class OpProfile:
    """Milliseconds per run by operator type (convolutions as `Conv (dense)` / `Conv (depthwise)` of their own
    type), the whole run's median, and the optimised graph's node count by type."""

    per_op_ms: dict[str, float]
    run_ms: float
    runs: int
    optimised_nodes: dict[str, int]

    def table(self, top: int = 12) -> str:
        kernels = sum(self.per_op_ms.values())
        lines = [f"{self.run_ms:.2f} ms per run (median of {self.runs}), {kernels:.2f} ms in kernels:"]
        for name, ms in sorted(self.per_op_ms.items(), key=lambda item: -item[1])[:top]:
            lines.append(f"  {name:28s} {ms:7.2f} ms  {100 * ms / kernels:5.1f} %")
        nodes = ", ".join(f"{name} {count}" for name, count in
                          sorted(self.optimised_nodes.items(), key=lambda item: -item[1]))
        lines.append(f"  after ONNX Runtime's fusions: {nodes}")
        return "\n".join(lines)


def profile_graph(graph: Path, image_size: int, runs: int = 20, threads: int | None = None) -> OpProfile:
    """Profile `runs` inferences of one random S x S image, after warm-up runs that are not counted."""
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="ort-profile-") as scratch:
        options = session_options(threads)
        options.optimized_model_filepath = str(Path(scratch) / "optimised.onnx")
        options.enable_profiling = True
        options.log_severity_level = 3  # not the warning that an optimised graph written out is CPU-specific
        options.profile_file_prefix = str(Path(scratch) / "profile")
        session = onnxruntime.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
        feed_type = np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32
        pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, image_size, image_size)).astype(feed_type)
        feed = {session.get_inputs()[0].name: pixels}
        for _ in range(_WARM_UP_RUNS + runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
        optimised = onnx.load(options.optimized_model_filepath, load_external_data=False)
    model_runs = sorted((event["ts"], event["dur"]) for event in events
                        if event.get("cat") == "Session" and event.get("name") == "model_run")[-runs:]
    counted_from = model_runs[0][0]
    depthwise = {node.name for node in optimised.graph.node if node.op_type in _CONVOLUTIONS
                 and any(attribute.name == "group" and attribute.i > 1 for attribute in node.attribute)}
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        if event["ts"] < counted_from:
            continue
        op = event["args"]["op_name"]
        if op in _CONVOLUTIONS:
            node = event["name"][: -len("_kernel_time")]
            op = f"{op} ({'depthwise' if node in depthwise else 'dense'})"
        per_op[op] += event["dur"] / 1000 / len(model_runs)
    return OpProfile(dict(per_op), float(np.median([duration for _, duration in model_runs])) / 1000,
                     len(model_runs), dict(Counter(node.op_type for node in optimised.graph.node)))
