"""`python -m core latency --profile`: ONNX Runtime's own profiler says where a real graph's time goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.cli import main
from core.model_manifest import ONNX_GRAPH
from core.runtime.ort_profile import profile_graph

DEMO = Path(__file__).resolve().parents[3] / "resources" / "demo_model"


def test_the_demo_graph_s_time_is_split_by_operator_with_depthwise_convolutions_apart() -> None:
    profile = profile_graph(DEMO / ONNX_GRAPH, 256, runs=3)
    assert profile.runs == 3 and profile.run_ms > 0
    kernels = sum(profile.per_op_ms.values())
    # EfficientNet-Lite: both kinds of convolution, and they are most of the kernel time
    dense, depthwise = profile.per_op_ms["Conv (dense)"], profile.per_op_ms["Conv (depthwise)"]
    assert dense > 0 and depthwise > 0 and dense + depthwise > 0.5 * kernels
    assert profile.optimised_nodes["Conv"] > 10


def test_latency_prints_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["latency", "--model", str(DEMO), "--runs", "2", "--repeats", "1", "--profile"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Conv \(dense\)\s+[\d.]+ ms\s+[\d.]+ %", out), out
    assert "after ONNX Runtime's fusions: Conv" in out
