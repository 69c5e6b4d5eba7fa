"""The Inspection Station window (PySide6 + pyqtgraph) on top of the Qt-free engine in `core`."""
