"""The audit trail read back: time arguments (`2h`, an ISO date), a summary by verdict and category, and CSV.

Shared by `python -m core history` and the window's History page, so both count and export the same way.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path

from core.audit.records import NG, OK, utc_text
from core.audit.store import AuditStore, HistoryFilter
from core.errors import InputError
from core.files import write_file_atomically

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
CSV_COLUMNS = ("id", "time", "source", "frame", "frame_name", "category", "score", "threshold", "verdict",
               "model_version", "model_sha256", "precision", "model_path", "image", "operator_action")


def moment(text: str, now: datetime | None = None) -> str:
    """A time argument in the stored format: a duration back from now (`90s`, `30m`, `2h`, `7d`, `1w`) or an ISO
    date or date and time (`2026-12-01`, `2026-12-01T08:00`, `...+01:00`; without an offset it is UTC).
    InputError quoting the text when it is neither."""
    now = now or datetime.now(timezone.utc)
    duration = _DURATION.match(text)
    if duration:
        return utc_text(now - timedelta(seconds=float(duration.group(1)) * _UNIT_SECONDS[duration.group(2)]))
    try:
        return utc_text(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise InputError(f"time {text!r}: neither a duration back from now (30m, 2h, 7d) nor an ISO date or time "
                         f"(2026-12-01, 2026-12-01T08:00)") from None


def summary_lines(counts: Mapping[tuple[str, str], int]) -> list[str]:
    """The count table: OK, NG and the NG share per category, and all categories together."""
    categories = sorted({category for _, category in counts})
    width = max([len("category"), *(len(category or "(unknown)") for category in categories)])
    lines = [f"{'category':<{width}}  {'OK':>8}  {'NG':>8}  {'NG %':>6}"]
    rows = [(category or "(unknown)", counts.get((OK, category), 0), counts.get((NG, category), 0))
            for category in categories]
    if len(rows) != 1:
        rows.append(("all", sum(row[1] for row in rows), sum(row[2] for row in rows)))
    for name, ok, ng in rows:
        share = f"{100 * ng / (ok + ng):6.1f}" if ok + ng else f"{'-':>6}"
        lines.append(f"{name:<{width}}  {ok:>8}  {ng:>8}  {share}")
    return lines


def write_csv(store: AuditStore, where: HistoryFilter, target: Path) -> int:
    """Write the verdicts matching `where`, oldest first, as CSV at `target` (atomically); returns the row count.
    `image` is the NG frame's absolute path, empty for OK frames and once pruned."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    count = 0
    folder = store.path.absolute().parent
    for verdict in store.iter_verdicts(where, oldest_first=True):
        model = verdict.model
        image = str(folder / verdict.image_path) if verdict.image_path else ""
        writer.writerow((verdict.id, verdict.time, verdict.source, verdict.frame, verdict.frame_name,
                         verdict.category, f"{verdict.score:.6g}", f"{verdict.threshold:.6g}", verdict.verdict,
                         model.version, model.sha256, model.precision, model.path, image,
                         verdict.operator_action or ""))
        count += 1
    write_file_atomically(Path(target), text.getvalue().encode())
    return count
