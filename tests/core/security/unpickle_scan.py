"""Find calls that unpickle (and so can run code from) a file, by reading Python source as a syntax tree.

A grep misses `from pickle import loads as l` and flags comments; the tree sees what is called. Names are resolved
through each module's imports (`import numpy as np`, `from torch import load`), then judged:

- pickle / cPickle / _pickle / cloudpickle `load`, `loads`, `Unpickler`; pandas `read_pickle`
- `torch.load` unless it passes `weights_only=True` literally
- `numpy.load` with `allow_pickle` set to anything but a literal False
- any import of joblib, dill or shelve (each of them unpickles)
- `yaml.load` / `yaml.load_all` without `Loader=SafeLoader` (or CSafeLoader); `yaml.unsafe_load*`, `yaml.full_load*`
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_PICKLE_MODULES = ("pickle", "cPickle", "_pickle", "cloudpickle")
_PICKLE_CALLS = {f"{module}.{name}" for module in _PICKLE_MODULES for name in ("load", "loads", "Unpickler")}
_PICKLE_CALLS |= {"pandas.read_pickle"}
_FORBIDDEN_MODULES = ("joblib", "dill", "shelve")
_SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader"}
_UNSAFE_YAML = {"yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load", "yaml.full_load_all"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def scan_tree(roots: Iterable[Path], relative_to: Path) -> list[Finding]:
    """Every finding in the .py files below `roots`, paths shown relative to `relative_to`."""
    findings = []
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            findings += scan_source(path.read_text(encoding="utf-8"), str(path.relative_to(relative_to)))
    return findings


def scan_source(source: str, path: str = "<source>") -> list[Finding]:
    tree = ast.parse(source, filename=path)
    aliases = _import_aliases(tree)
    findings = [Finding(path, node.lineno, f"imports {name}, which unpickles")
                for node, name in _imported_modules(tree) if name.split(".")[0] in _FORBIDDEN_MODULES]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _qualified(node.func, aliases)
            problem = _judge(name, node, aliases) if name else None
            if problem:
                findings.append(Finding(path, node.lineno, problem))
    return findings


def _judge(name: str, call: ast.Call, aliases: dict[str, str]) -> str | None:
    keywords = {keyword.arg: keyword.value for keyword in call.keywords if keyword.arg}
    if name in _PICKLE_CALLS:
        return f"{name}() unpickles"
    if name in ("torch.load", "torch.serialization.load") and not _is_constant(keywords.get("weights_only"), True):
        return "torch.load() without weights_only=True unpickles"
    if name == "numpy.load" and "allow_pickle" in keywords and not _is_constant(keywords["allow_pickle"], False):
        return "numpy.load() with allow_pickle unpickles"
    if name in _UNSAFE_YAML:
        return f"{name}() can build arbitrary objects"
    if name in ("yaml.load", "yaml.load_all"):
        loader = keywords.get("Loader", call.args[1] if len(call.args) > 1 else None)
        if loader is None or _qualified(loader, aliases) not in _SAFE_YAML_LOADERS:
            return f"{name}() without Loader=yaml.SafeLoader can build arbitrary objects"
    return None


def _is_constant(node: ast.expr | None, value: bool) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _imported_modules(tree: ast.AST) -> Iterable[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module


def _import_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it stands for: `np` -> `numpy`, `load` (from torch) -> `torch.load`. Imports anywhere
    in the module count (a lazy import inside a function is still an import)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """The dotted name a call target stands for (`np.load` -> `numpy.load`), or None when it is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    base = aliases.get(node.id, node.id)
    return ".".join([base, *reversed(parts)])
