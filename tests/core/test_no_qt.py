"""The engine is a library and a headless CLI: every core module imports in a process where Qt cannot be imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import core

BLOCK_QT_AND_IMPORT_ALL = r"""
import importlib, pkgutil, sys

class BlockQt:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "superqt", "app"}:
            raise ImportError(f"{name} imported by the engine")
        return None

sys.meta_path.insert(0, BlockQt())
import core
names = [info.name for info in pkgutil.walk_packages(core.__path__, "core.")]
skipped = {"core.__main__"}  # runs the CLI on import
for name in names:
    if name not in skipped and ".device." not in name:  # device scripts run on the Jetson, with TensorRT
        importlib.import_module(name)
print(len(names))
"""


def test_every_core_module_imports_without_qt() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK_QT_AND_IMPORT_ALL], capture_output=True, text=True,
                            cwd=Path(core.__file__).parents[1], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.split()[-1]) > 40
