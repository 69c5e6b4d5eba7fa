"""Imports inside the engine run one way: the import-linter contracts of pyproject.toml hold, and they do bite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import core

ROOT = Path(core.__file__).parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # `app` is a root package of the contracts, so it must import-resolve; PYTHONPATH points at `root` only.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], capture_output=True, text=True, cwd=root, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": str(LINT_IMPORTS.parent)})


def copy_code(target: Path) -> None:
    for name in ("core", "app"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target)


def test_the_engine_keeps_its_import_contracts() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]
    assert "Imports inside the engine run one way KEPT" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    """A copy of the code where the metrics import a command, lazily, as library code used to: the contract fails
    and names the import."""
    copy_code(tmp_path)
    image = tmp_path / "core" / "metrics" / "image.py"
    image.write_text(image.read_text() + "\n\ndef _upward() -> None:\n    from core.commands import latency\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Imports inside the engine run one way BROKEN" in result.stdout
    assert "core.metrics.image -> core.commands.latency" in result.stdout


def test_a_new_engine_module_must_be_placed_in_a_layer(tmp_path: Path) -> None:
    copy_code(tmp_path)
    (tmp_path / "core" / "stray.py").write_text('"""Not in any layer yet."""\n')
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "core.stray" in result.stdout + result.stderr
