"""Numbers that make no sense are refused by argparse (status 2, one line naming the option, the allowed range and
the value given) before any model loads or any job starts; nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_testkit import error_line, run_cli

REPO = Path(__file__).resolve().parents[3]

# (command, option, value, what the message must say); the other arguments are filled in by `command_line`.
CASES = [
    ("train", "--epochs", "0", "must be a whole number from 1 to 10000, got 0"),
    ("train", "--epochs", "-3", "must be a whole number from 1 to 10000, got -3"),
    ("train", "--epochs", "1000000", "from 1 to 10000, got 1000000"),
    ("train", "--epochs", "2.5", "must be a whole number from 1 to 10000, got '2.5'"),
    ("train", "--epochs", "ten", "got 'ten'"),
    ("train", "--batch-size", "0", "must be a whole number from 1 to 1024, got 0"),
    ("train", "--batch-size", "-8", "got -8"),
    ("train", "--batch-size", "100000", "got 100000"),
    ("train", "--image-size", "0", "must be a whole number from 32 to 2048, got 0"),
    ("train", "--image-size", "8", "from 32 to 2048, got 8"),
    ("train", "--image-size", "-256", "got -256"),
    ("train", "--image-size", "100000", "got 100000"),
    ("train", "--coreset-ratio", "0", "must be a number above 0 and at most 1, got 0"),
    ("train", "--coreset-ratio", "1.5", "above 0 and at most 1, got 1.5"),
    ("train", "--coreset-ratio", "nan", "got nan"),
    ("train", "--seed", "-1", "must be a whole number from 0 to 4294967295, got -1"),
    ("train", "--target-frr", "0", "must be a number above 0 and at most 0.5, got 0"),
    ("train", "--threshold-folds", "1", "must be 0 (hold 10 % out) or a whole number of folds from 2 to 20, got 1"),
    ("train", "--threshold-folds", "2.5", "got '2.5'"),
    ("benchmark", "--epochs", "0", "from 1 to 10000, got 0"),
    ("benchmark", "--image-size", "16", "from 32 to 2048, got 16"),
    ("benchmark", "--workers", "0", "from 1 to 4096, got 0"),
    ("benchmark", "--cpus-per-cell", "0", "above 0 and at most 4096, got 0"),
    ("benchmark", "--gpus-per-cell", "-1", "got -1"),
    ("export", "--calibration-samples", "0", "must be a whole number from 1 to 1024, got 0"),
    ("export", "--calibration-samples", "100000", "got 100000"),
    ("export", "--qat-epochs", "-1", "from 1 to 10000, got -1"),
    ("compare", "--calibration-samples", "-5", "from 1 to 1024, got -5"),
    ("latency", "--runs", "0", "must be a whole number from 1 to 100000, got 0"),
    ("latency", "--repeats", "0", "from 1 to 1000, got 0"),
    ("inspect", "--threshold", "-1", "must be a finite number of at least 0, got -1"),
    ("inspect", "--threshold", "-0.001", "got -0.001"),
    ("inspect", "--threshold", "nan", "got nan"),
    ("inspect", "--threshold", "inf", "must be a finite number of at least 0, got inf"),
    ("inspect", "--threshold", "high", "got 'high'"),
    ("inspect", "--max-frames", "-5", "from 0 to 1000000000, got -5"),
    ("bench-live", "--seconds", "0", "must be a number above 0 and at most 604800, got 0"),
    ("bench-live", "--seconds", "-5", "got -5"),
    ("bench-live", "--runs", "0", "from 1 to 1000, got 0"),
    ("bench-live", "--threads", "0", "from 1 to 1024, got 0"),
    ("deploy", "--port", "0", "must be a whole number from 1 to 65535, got 0"),
    ("deploy", "--port", "65536", "got 65536"),
    ("deploy", "--max-batch", "0", "from 1 to 256, got 0"),
    ("deploy", "--retries", "-1", "from 0 to 100, got -1"),
    ("deploy", "--timeout", "0", "above 0 and at most 604800, got 0"),
    ("deploy", "--build-timeout", "-1", "got -1"),
]


def command_line(command: str, tmp_path: Path) -> list[object]:
    """The command with every required argument; the paths need not exist, since parsing stops first."""
    model, data, out = tmp_path / "model", tmp_path / "data", tmp_path / "out"
    required: dict[str, list[object]] = {
        "train": ["--data", data, "--out", out],
        "benchmark": ["--data", data, "--out", out],
        "export": ["--model", model, "--out", out],
        "compare": ["--model", model, "--data", data, "--out", out],
        "latency": ["--model", model],
        "inspect": ["--model", model, "--source", "demo://", "--save-ng", out],
        "bench-live": ["--model", model, "--json", out / "bench.json"],
        "deploy": ["--model", model, "--host", "127.0.0.1", "--user", "nvidia", "--log-dir", out],
    }
    return [command, *required[command]]


@pytest.mark.parametrize("command, option, value, message", CASES,
                         ids=[f"{command}{option}={value}" for command, option, value, _ in CASES])
def test_senseless_number_is_refused_by_argparse(tmp_path: Path, command: str, option: str, value: str,
                                                 message: str) -> None:
    result = run_cli(*command_line(command, tmp_path), option, value)
    line = error_line(result, f"argument {option}: must be", message)
    assert line.startswith(f"python -m core {command}: error:")
    assert list(tmp_path.iterdir()) == []  # no output folder, no report, no log


def test_sensible_values_pass_the_same_types(tmp_path: Path) -> None:
    """The limits are not so tight that a real setting is refused: parsing alone, with values at the edges."""
    from core.cli import build_parser

    args = build_parser().parse_args(
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--epochs", "10000", "--batch-size", "1",
         "--image-size", "32", "--coreset-ratio", "1", "--seed", "4294967295"])
    assert (args.epochs, args.batch_size, args.image_size, args.coreset_ratio, args.seed) == (10000, 1, 32, 1.0,
                                                                                              2**32 - 1)
    args = build_parser().parse_args(["inspect", "--model", "m", "--source", "0", "--threshold", "0"])
    assert args.threshold == 0.0  # everything NG: a way to save every frame


def test_real_entry_point_refuses_negative_epochs(tmp_path: Path) -> None:
    """`python -m core` itself: the usage, then the one line, status 2, nothing created."""
    result = subprocess.run(
        [sys.executable, "-m", "core", "train", "--data", str(tmp_path), "--out", str(tmp_path / "m"),
         "--epochs", "-3"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == ("python -m core train: error: argument --epochs: must be a whole number "
                                              "from 1 to 10000, got -3")
    assert not (tmp_path / "m").exists()
