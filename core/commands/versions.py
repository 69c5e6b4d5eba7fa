"""`python -m core versions`: list a model directory's versions, or make an earlier one current again.

    python -m core versions --model models/line1
    *   3  2026-12-02T01:40:12+00:00  weights 4be0c1d2a9f3  marked 1 frame(s) good: 000.png  (from 2)
        2  ...
    python -m core versions --model models/line1 --rollback 1
    version 4 is current: rollback to 1 (weights 9a1f...)

A rollback is a new version with the earlier one's files: history is never rewritten.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.commands import arg_types
from core.model_versions import describe, rollback


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("versions")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--rollback", type=arg_types.whole_number(1, 10**6), default=None, metavar="N",
                        help="make version N current (as a new version 'rollback to N')")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.rollback is not None:
        entry = rollback(args.model, args.rollback)
        print(f"version {entry.number} is current: {entry.reason} (weights {entry.weights_sha256[:12]})")
        return 0
    for line in reversed(describe(args.model)):
        print(line)
    return 0
