"""Parse the command line and dispatch to one module per subcommand; expected failures print a message, no traceback.

Only the module of the command that runs is imported: `python -m core inspect` or `latency` never loads the
training side (torch, timm, scikit-learn) that `train` needs, and `--help` lists every command from the table
below without importing any of them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Sequence
from importlib import import_module
from typing import Any

from core.errors import Cancelled, InputError

# name -> (module in core.commands with `register(subparsers)` and a `run` it sets, the one line --help shows)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "train (once) and evaluate the demo model on the embedded demo data"),
    "train": ("train", "train one unified model on normal images of several categories"),
    "evaluate": ("evaluate", "image/pixel AUROC, pixel F1-max and AUPRO per category"),
    "predict": ("predict", "score images and write overlays and a CSV"),
    "refresh": ("refresh", "rebuild a saved model's graph and thresholds with this version's code"),
    "export": ("export", "export FP32 / FP16 / INT8 (PTQ or QAT) as a deployment bundle"),
    "compare": ("compare", "accuracy, size and latency of FP32 / FP16 / INT8 variants"),
    "latency": ("latency", "median per-image inference latency (model alone)"),
    "benchmark": ("benchmark", "the methods x backbones x layer groups grid: accuracy and resources per cell, "
                               "locally or on Ray"),
    "inspect": ("inspect", "inspect frames from a camera, video, folder or images"),
    "bench-live": ("bench_live", "measure sustained live-inspection FPS and latency split"),
    "deploy": ("deploy", "push a model to a Jetson over SSH and build its TensorRT engine there"),
    "device": ("device", "start, stop and watch live inspection on a deployed Jetson"),
    "history": ("history", "the audit trail: verdicts counted by verdict and category, exported as CSV"),
    "teach": ("teach", "teach a model that images are good (checked against known defects), as a new version"),
    "versions": ("versions", "list a model directory's versions, or roll back to one"),
    "self-test": ("self_test", "score the station's known good and bad parts with a model (start of shift)"),
}


class _Subcommand:
    """What a command module's `register` is given: `add_parser(name, ...)` adds the real parser, with the line
    from COMMANDS as its help (one place for it) and, unless the module writes a longer one, its description."""

    def __init__(self, subparsers: Any, summary: str) -> None:
        self._subparsers, self._summary = subparsers, summary

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser:
        options.setdefault("description", self._summary)
        return self._subparsers.add_parser(name, help=self._summary, **options)


def build_parser(load: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the commands in `load` (default: all) are imported and take their options, the others are a
    name and a line of help (enough for --help and for argparse to name the choices)."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Inspection Station engine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module, summary) in COMMANDS.items():
        if load is None or name in load:
            import_module(f"core.commands.{module}").register(_Subcommand(subparsers, summary))
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` names (its first word: the top-level parser takes no option but --help), if any."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = command_in(argv)
    args = build_parser(() if command is None else (command,)).parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        print("cancelled: nothing was written, the previous model is untouched", file=sys.stderr)
        return 130
