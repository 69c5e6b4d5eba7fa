"""`python -m core history`: the audit trail's verdicts, counted by verdict and category, and written as CSV.

    python -m core history --since 8h --verdict NG --csv ng.csv
    4210 verdicts from 2026-12-01T14:02:11.120+00:00 to 2026-12-01T21:58:40.533+00:00 in ~/.local/share/...
    category        OK        NG    NG %
    bottle        4104       106     2.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.audit.history import moment, summary_lines, write_csv
from core.audit.records import VERDICTS
from core.audit.store import AuditStore, HistoryFilter
from core.commands import arg_types
from core.commands.audit_flags import add_audit_option, audit_db
from core.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("history")  # its --help line: core.cli.COMMANDS
    add_audit_option(parser, "--db", "--audit")
    parser.add_argument("--since", metavar="WHEN", help="a duration back from now (30m, 2h, 7d) or an ISO date or "
                                                        "time (UTC unless it says +hh:mm)")
    parser.add_argument("--until", metavar="WHEN", help="the same kinds of time; verdicts before it")
    parser.add_argument("--verdict", choices=VERDICTS, type=str.upper)
    parser.add_argument("--category")
    parser.add_argument("--model", metavar="SHA", help="the model's sha256, or its first characters")
    parser.add_argument("--csv", type=arg_types.output_file, metavar="OUT", help="write the matching verdicts here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    db = audit_db(args)
    if not db.is_file():
        raise InputError(f"{db}: no audit database there (inspect records one; --db names another)")
    where = HistoryFilter(since=args.since and moment(args.since), until=args.until and moment(args.until),
                          verdict=args.verdict, category=args.category, model=args.model)
    with AuditStore(db) as store:
        counts = store.counts(where)
        total = sum(counts.values())
        newest = store.verdicts(where, limit=1)
        oldest = next(store.iter_verdicts(where, limit=1, oldest_first=True), None)
        span = f" from {oldest.time} to {newest[0].time}" if oldest and newest else ""
        print(f"{total} verdicts{span} in {db}")
        if total:
            print("\n".join(summary_lines(counts)))
        last = store.last_self_test()
        print("last self-test: " + ("never" if last is None else f"{last[0]}, {'passed' if last[1] else 'FAILED'}"))
        if args.csv is not None:
            written = write_csv(store, where, Path(args.csv))
            print(f"wrote {written} verdicts to {args.csv}")
    return 0
