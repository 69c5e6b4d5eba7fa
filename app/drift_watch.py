"""The Inspect page's drift side: the current model's training reference, read from the station's cache or built on
a thread of its own (reading a few hundred normal images takes seconds; the live view must not wait), and a fresh
`core.drift.DriftMonitor` for every run, fed on the live worker's thread.

Example:
    >>> watch = QtDriftWatch(settings.audit_db)
    >>> watch.note.connect(readout.show_note)
    >>> watch.use_runtime(runtime)              # builds or reads the reference in the background
    >>> monitor = watch.monitor_for_run()       # frames are kept until the reference arrives
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.drift.monitor import DEFAULT_WINDOW, DriftMonitor, every_for
from core.drift.reference import DriftReference, DriftUnavailable, cache_folder, reference_for
from core.errors import InputError


class QtDriftWatch(QObject):
    """Holds the reference of the model in use; `note` says how it was had, or why drift is off."""

    note = Signal(str, bool)  # the message, and whether drift is on
    _built = Signal(int, object, str)  # from the builder thread: generation, reference or None, message

    def __init__(self, audit_db: Path, window: int = DEFAULT_WINDOW, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.folder = cache_folder(audit_db)
        self.window = window
        self.reference: DriftReference | None = None
        self.monitor: DriftMonitor | None = None
        self._generation = 0
        self._built.connect(self._take_reference)  # queued: emitted from the builder thread

    def use_runtime(self, runtime: Any) -> None:
        """Forget the last model's reference and start getting this one's."""
        self._generation += 1
        self.reference = None
        if self.monitor is not None:
            self.monitor.reference = None
        self.note.emit("drift: reading the training images for the reference…", True)
        generation = self._generation
        threading.Thread(target=self._build, args=(generation, runtime), name="drift-reference", daemon=True).start()

    def monitor_for_run(self) -> DriftMonitor:
        """A new rolling window for a run that starts (a new source is not judged by the last one's frames)."""
        self.monitor = DriftMonitor(self.reference, self.window, every_for(self.window))
        return self.monitor

    def _build(self, generation: int, runtime: Any) -> None:  # on the builder thread
        try:
            reference, message = reference_for(runtime, self.folder)
        except DriftUnavailable as error:
            reference, message = None, str(error)
        except (InputError, OSError) as error:  # an unreadable image or cache: said, inspection goes on
            reference, message = None, f"drift off: {error}"
        except Exception as error:  # e.g. the window closing while images are read: never a traceback on stderr
            reference, message = None, f"drift off: {type(error).__name__}: {error}"
        try:
            self._built.emit(generation, reference, message)
        except RuntimeError:  # the watch was deleted with its page meanwhile
            pass

    def _take_reference(self, generation: int, reference: DriftReference | None, message: str) -> None:
        if generation != self._generation:
            return  # a model that is no longer in use
        self.reference = reference
        if self.monitor is not None:
            self.monitor.reference = reference
        self.note.emit(message, reference is not None)
