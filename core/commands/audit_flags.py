"""The `--audit PATH` option that `inspect`, `history` and `self-test` share, and the database it names."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.audit.location import AUDIT_ENV, default_db_path
from core.commands import arg_types


def add_audit_option(parser: argparse.ArgumentParser, *names: str) -> None:
    parser.add_argument(*(names or ("--audit",)), dest="audit", type=arg_types.output_file, default=None,
                        metavar="PATH", help=f"the audit database (default: ${AUDIT_ENV}, else "
                                             f"{default_db_path()})")


def audit_db(args: argparse.Namespace) -> Path:
    return args.audit or default_db_path()
