"""Frame sources for live inspection (cameras, video files, watched folders, image files) and the live loop.

Qt-free, so that the window and the command line (`python -m core inspect`, `bench-live`) share them.
"""

from core.sources.base import Frame, FrameSource, SourceStatus
from core.sources.live import FrameResult, LiveSettings, inspect_frame, inspect_stream
from core.sources.reader import LatestFrameReader
from core.sources.uri import DEMO_URI, open_source

__all__ = [
    "DEMO_URI",
    "Frame",
    "FrameResult",
    "FrameSource",
    "LatestFrameReader",
    "LiveSettings",
    "SourceStatus",
    "inspect_frame",
    "inspect_stream",
    "open_source",
]
