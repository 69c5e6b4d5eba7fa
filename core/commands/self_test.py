"""`python -m core self-test`: score the station's known good and known bad parts with a model; record the run.

    python -m core self-test --model models/line --add-good good_1.png --add-bad scratch_1.png   # register, then run
    python -m core self-test --model models/line
    PASS  bottle/good/good_1.png       OK  score 0.3121 (threshold 0.5200)
    FAIL  bottle/bad/scratch_1.png     OK  score 0.4410 (threshold 0.5200)  expected NG
    self-test FAILED: 1 of 2 parts wrong (recorded in ~/.local/share/inspection-station/audit.sqlite)

Exit status 0 when every part passes, 1 when one fails, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.audit.location import parts_folder
from core.audit.records import NG, OK, ModelIdentity
from core.audit.self_test import add_parts, self_test_job
from core.commands import arg_types
from core.commands.audit_flags import add_audit_option, audit_db
from core.commands.progress import run_with_bars
from core.runtime import BACKENDS, open_runtime


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("self-test")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--add-good", type=arg_types.input_file, nargs="+", default=[], metavar="IMG",
                        help="register known good part images (copied into the station's self-test set)")
    parser.add_argument("--add-bad", type=arg_types.input_file, nargs="+", default=[], metavar="IMG",
                        help="register known bad part images")
    parser.add_argument("--category", help="the category of the images added (default: the one their path names, "
                                           "or the model's only one)")
    parser.add_argument("--parts", type=arg_types.output_folder, default=None, metavar="DIR",
                        help="the self-test set (default: beside the audit database)")
    add_audit_option(parser)
    parser.add_argument("--runtime", choices=BACKENDS, default="auto")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    db = audit_db(args)
    parts = args.parts or parts_folder(db)
    runtime = open_runtime(args.model, args.runtime)
    for images, expected in ((args.add_good, OK), (args.add_bad, NG)):
        if images:
            copies = add_parts(parts, images, expected, runtime.categories, args.category)
            kind = "good" if expected == OK else "bad"
            print(f"registered {len(copies)} known {kind} part(s) in {parts}", file=sys.stderr)
    print(f"self-test of {args.model} on {runtime.name} ({runtime.precision.upper()}), parts in {parts}",
          file=sys.stderr)
    run = run_with_bars(self_test_job(runtime, parts, ModelIdentity.of(runtime.manifest, runtime.model_dir), db))
    width = max(len(part.part) for part in run.parts)
    for part in run.parts:
        wrong = "" if part.passed else f"  expected {part.expected}"
        print(f"{'PASS' if part.passed else 'FAIL'}  {part.part:<{width}}  {part.verdict}  score {part.score:.4f} "
              f"(threshold {part.threshold:.4f}){wrong}")
    if run.passed:
        print(f"self-test passed: {len(run.parts)} parts (recorded in {db})")
        return 0
    print(f"self-test FAILED: {len(run.failures)} of {len(run.parts)} parts wrong (recorded in {db})")
    return 1
