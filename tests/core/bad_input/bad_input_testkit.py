"""Helpers for the bad-input tests: run the real command line in this process and judge what the operator reads.

A refusal must exit non-zero (2 for argparse and input errors, 1 for deploy), print exactly one line carrying
"error:" that names the culprit, print it last, and show no traceback; `snapshot` proves that nothing was written
or lost.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from core.cli import main


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str
    warnings: tuple[str, ...]  # Python warnings raised on the way (they would reach the operator's terminal)


def run_cli(*argv: object) -> CliResult:
    """`python -m core ARGV...` in this process; argparse's SystemExit becomes the exit code."""
    out, err = io.StringIO(), io.StringIO()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        warnings.simplefilter("always")
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    noise = tuple(str(w.message) for w in caught if not issubclass(w.category, (DeprecationWarning, ResourceWarning)))
    return CliResult(code, out.getvalue(), err.getvalue(), noise)


def error_line(result: CliResult, *fragments: object, code: int = 2) -> str:
    """Assert `result` is a clean refusal naming every fragment; return its error line."""
    assert result.code == code, (result.code, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1, result.err
    assert lines[-1] == errors[0], f"the error is not the last thing printed:\n{result.err}"
    for fragment in fragments:
        assert str(fragment) in errors[0], (fragment, errors[0])
    return errors[0]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder below `root` (hidden ones too) with a hash of its bytes; {} when `root` is absent."""
    if not root.exists():
        return {}
    if root.is_file():
        return {".": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file()
            else "folder" for path in sorted(root.rglob("*"))}
