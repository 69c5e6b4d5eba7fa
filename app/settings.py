"""What the window remembers between runs (QSettings): the last model, recent model and data folders, the source,
the overlay look and where NG frames go. One small class so that keys are spelled once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

from core.audit.frames import DEFAULT_CAP_MB
from core.audit.location import default_db_path

ORGANISATION = "InspectionStation"
APPLICATION = "Inspection Station"
_RECENT_LIMIT = 8
SELF_TEST_MAX_AGE_HOURS = 8.0  # a shift: the window reminds when the last self-test is older


class AppSettings:
    """Typed access to the window's QSettings.

    Example:
        >>> settings = AppSettings()
        >>> settings.add_recent("recent/data", Path("data/bottle"))
        >>> settings.recent("recent/data")
        [PosixPath('data/bottle')]
    """

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings(ORGANISATION, APPLICATION)

    def value(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return default if value is None else str(value)

    def set_value(self, key: str, value: object) -> None:
        self.store.setValue(key, value)

    def number(self, key: str, default: float) -> float:
        try:
            return float(self.store.value(key, default))
        except (TypeError, ValueError):
            return default

    def flag(self, key: str, default: bool = False) -> bool:
        """A yes/no value (the file holds `true`/`false` as text: read it as a bool, never as a string)."""
        return bool(self.store.value(key, default, type=bool))

    def recent(self, key: str) -> list[Path]:
        """Recent folders under `key`, newest first, those that no longer exist left out."""
        raw = self.store.value(key, [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [Path(item) for item in items if item and Path(item).exists()]

    def add_recent(self, key: str, path: Path) -> None:
        items = [str(Path(path))] + [str(item) for item in self.recent(key) if item != Path(path)]
        self.store.setValue(key, items[:_RECENT_LIMIT])

    @property
    def models_folder(self) -> Path:
        """Where trained models go: chosen by the user, else the platform's application data folder."""
        default = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)) / "models"
        return Path(self.value("train/models_folder", str(default)))

    @property
    def audit_db(self) -> Path:
        """The audit database the window records into and the History page reads: the station's (shared with
        `python -m core inspect`, see `core.audit.location`) unless one is chosen here."""
        return Path(self.value("audit/db", str(default_db_path())))

    @property
    def audit_frame_cap_mb(self) -> float:
        """Disk the NG frames beside the audit database may take; the oldest go first beyond it."""
        return self.number("audit/frame_cap_mb", DEFAULT_CAP_MB)

    @property
    def self_test_max_age_hours(self) -> float:
        return self.number("self_test/max_age_hours", SELF_TEST_MAX_AGE_HOURS)
