"""`python -m core teach`: teach a model that images are good, checked against every known defect first.

    python -m core teach --model models/line1 --good false_alarms/ --check scratches/ --reason "new supplier"
    false_alarms/001.png  bottle: 0.6121 NG -> 0.2874 OK (threshold 0.4530)
    check: 63 known defects re-scored (63 test set), none turned OK
    version 2 made: new supplier

Memory-bank methods learn the images at once. Methods that train keep them in the model directory; `--fine-tune`
then trains on them (with the training images, where they still exist) for `--epochs` and makes the new version.
Exit status 0 when a version was made (or the images were kept), 1 when the check refused the change (nothing is
written), 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.audit.location import default_db_path
from core.commands import arg_types
from core.commands.audit_flags import add_audit_option
from core.commands.progress import run_with_bars
from core.errors import InputError
from core.model_manifest import read_manifest
from core.teaching.images import frames_from_paths
from core.teaching.job import TeachResult, teach_job


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("teach")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("--good", type=Path, nargs="+", default=[], metavar="IMAGE|DIR",
                        help="images (or folders of them) that are good parts the model flags")
    parser.add_argument("--check", type=Path, nargs="+", default=[], metavar="DIR",
                        help="folders of known defect images that must stay NG (besides the test defects and the "
                             "frames confirmed NG in the audit trail)")
    parser.add_argument("--reason", default=None, help="why, recorded with the new version")
    parser.add_argument("--category", default="", help="the images' category (default: the one their path names, "
                                                       "or the model's only one)")
    add_audit_option(parser)
    parser.add_argument("--no-audit", action="store_true", help="do not check the frames confirmed NG in the "
                                                                "audit trail")
    parser.add_argument("--fine-tune", action="store_true",
                        help="methods that train: fine-tune on the kept frames and make a new version")
    parser.add_argument("--epochs", type=arg_types.whole_number(1, 10_000), default=None, metavar="E",
                        help="fine-tune epochs (default: a fifth of training's)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    audit = None if args.no_audit else (args.audit or default_db_path())
    if args.fine_tune:
        from core.teaching.fine_tune import fine_tune_job

        result = run_with_bars(fine_tune_job(args.model, epochs=args.epochs, check_dirs=args.check,
                                             audit_db=audit, reason=args.reason))
        return report(result)
    if not args.good:
        raise InputError("give --good IMAGE|DIR ... (the images to teach), or --fine-tune")
    manifest = read_manifest(args.model, verify=False)
    frames = frames_from_paths(args.good, manifest.categories, args.category)
    result = run_with_bars(teach_job(args.model, frames, check_dirs=args.check, audit_db=audit, reason=args.reason))
    return report(result)


def report(result: TeachResult) -> int:
    for frame in result.frames:
        print(frame.describe())
    if result.check is not None:
        print(result.check.summary())
    if result.refused:
        print(result.refusal, file=sys.stderr)
        return 1
    if result.version is not None:
        timing = ", ".join(f"{name} {value:.2f} s" for name, value in result.seconds.items())
        print(f"version {result.version} made ({timing})")
    elif result.kept:
        print(f"kept {len(result.kept)} frame(s) in {result.kept[0].parent.parent}; "
              f"run with --fine-tune to teach them")
    return 0

