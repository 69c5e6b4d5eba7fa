"""ONNX Runtime's U8S8 kernels saturate on x86 without VNNI: seen here under QEMU with an AVX2-only CPU model, and
natively on whichever kind of CPU runs the suite. Full-range int8 weights overflow the 16-bit pair sums; 7-bit
weights, depthwise convolutions and session.x64quantprecision=1 stay exact."""

from __future__ import annotations

import json
import os

import pytest

from core.runtime.integer_path import cpu_integer_path

import no_vnni
import u8s8_probe

FULL, SEVEN_BIT = 127, 64
x86_only = pytest.mark.skipif(os.uname().machine != "x86_64", reason="the VNNI question is x86's")


def assert_exact(errors: dict[str, int], label: str) -> None:
    # 1 step of slack on the convolutions: ORT requantizes with a multiply by 1/scale, numpy divides by scale
    assert errors["matmul_integer"] == 0 and errors["qlinear_conv"] <= 1 and errors["depthwise_qlinear_conv"] <= 1, \
        f"{label}: expected exact integer results, got {errors}"


def assert_saturated(errors: dict[str, int], label: str) -> None:
    # a saturated pair loses up to 64770 - 32767 = 32003; the convolution's sums come out about half of exact
    assert errors["matmul_integer"] > 10_000 and errors["qlinear_conv"] > 50, \
        f"{label}: expected the 16-bit pair sums to saturate, got {errors}"
    # the depthwise kernel widens to 16 bits before multiplying, so it never saturates
    assert errors["depthwise_qlinear_conv"] <= 1, f"{label}: depthwise convolution is not exact: {errors}"


@pytest.mark.skipif(no_vnni.emulator() is None, reason=no_vnni.MISSING_REASON)
def test_emulated_cpu_without_vnni_saturates_full_range_weights_only() -> None:
    report = json.loads(no_vnni.run_python(["tests/u8s8_probe.py", str(FULL), str(SEVEN_BIT), f"{FULL}:precise"]))
    assert report["cpu"] == {"AVX2": True, "AVX512F": False, "AVX512VNNI": False}, report["cpu"]
    assert_saturated(report[str(FULL)], "emulated AVX2, full-range weights")
    assert_exact(report[str(SEVEN_BIT)], "emulated AVX2, 7-bit weights")
    assert_exact(report[f"{FULL}:precise"], "emulated AVX2, full-range weights, session.x64quantprecision=1")


@x86_only
def test_this_cpu_saturates_full_range_weights_exactly_when_it_lacks_vnni() -> None:
    # The runtime's own reading of the CPU (what the readouts and warnings use) against the kernels' behaviour.
    full = u8s8_probe.measure(FULL)
    if not cpu_integer_path().saturates:
        assert_exact(full, "this CPU (VNNI), full-range weights")
    else:
        assert_saturated(full, "this CPU (no VNNI), full-range weights")
    assert_exact(u8s8_probe.measure(SEVEN_BIT), "this CPU, 7-bit weights")


@pytest.mark.skipif(no_vnni.emulator() is None, reason=no_vnni.MISSING_REASON)
def test_a_failing_emulated_child_reports_its_error() -> None:
    with pytest.raises(RuntimeError, match=r"exited with 3:\nbroken pipe dream"):
        no_vnni.run_snippet("import sys; print('broken', 'pipe', 'dream', file=sys.stderr); sys.exit(3)")


def test_the_command_line_says_how_to_get_the_emulator_when_it_is_missing(monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    assert no_vnni.main(["-c", "pass"]) == 2
    assert capsys.readouterr().err.strip() == no_vnni.MISSING_REASON
