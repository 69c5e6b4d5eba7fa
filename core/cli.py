"""Parse the command line and dispatch to one module per subcommand; expected failures print a message, no traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core.commands import (bench_live, benchmark, compare, demo, deploy, device, evaluate, export, inspect, latency,
                           predict, train)
from core.errors import Cancelled, InputError

COMMANDS = (demo, train, evaluate, predict, export, compare, latency, benchmark, inspect, bench_live, deploy, device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Inspection Station engine")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        print("cancelled: nothing was written, the previous model is untouched", file=sys.stderr)
        return 130
