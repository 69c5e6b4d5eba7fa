"""What the window remembers between runs (QSettings): the last model, recent model and data folders, the source,
the overlay look and where NG frames go. One small class so that keys are spelled once."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths

ORGANISATION = "InspectionStation"
APPLICATION = "Inspection Station"
_RECENT_LIMIT = 8


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
