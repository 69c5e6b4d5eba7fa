"""Where the station keeps its audit trail: one data folder holding the SQLite file, the NG frames beside it and the
self-test parts, so that the command line and the window read and write the same history.

    $INSPECTION_STATION_AUDIT              the database file, when set (`--audit PATH` beats it)
    $XDG_DATA_HOME/inspection-station/audit.sqlite    otherwise (~/.local/share when XDG_DATA_HOME is unset)
    <db folder>/<db stem>-frames/          NG frames with their overlay, as JPEG, under a disk cap
    <db folder>/<db stem>-self-test/       the registered known good and known bad parts
    <db folder>/<db stem>-teach-cache/     known defect images at model size, for teaching's check
"""

from __future__ import annotations

import os
from pathlib import Path

AUDIT_ENV = "INSPECTION_STATION_AUDIT"
DB_NAME = "audit.sqlite"


def default_db_path() -> Path:
    """The station's audit database: $INSPECTION_STATION_AUDIT, else the XDG data folder (as the demo data uses the
    XDG cache folder: `core.data.demo`)."""
    chosen = os.environ.get(AUDIT_ENV)
    if chosen:
        return Path(chosen).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "inspection-station" / DB_NAME


def frames_folder(db_path: Path) -> Path:
    """Where the NG frames of the database at `db_path` go (beside it, so that moving the folder keeps both)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}-frames")


def parts_folder(db_path: Path) -> Path:
    """Where the self-test parts registered for the station of `db_path` are kept."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}-self-test")


def teach_cache_folder(db_path: Path) -> Path:
    """Where teaching's check caches the known test-set defects at model size (`core.teaching.check`)."""
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}-teach-cache")
