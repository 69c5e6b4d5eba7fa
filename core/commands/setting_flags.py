"""Command-line flags for the methods' settings, made from their declarations (`core.methods.settings`).

Every field of every registered method's settings becomes one flag (`coreset_ratio` -> `--coreset-ratio`); a field
several methods share (`epochs`) is one flag. A flag the chosen method does not take is refused by name, rather
than silently ignored.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import Field, fields

from core.commands import arg_types
from core.errors import InputError
from core.methods.registry import METHODS
from core.methods.settings import MethodSettings
from core.methods.spec import MethodSpec


def _all_fields() -> dict[str, tuple[Field, dict[str, Field]]]:
    """Each setting name: its first declaration (type and range of the flag) and every method's own declaration."""
    found: dict[str, tuple[Field, dict[str, Field]]] = {}
    for name, spec in METHODS.items():
        for item in fields(spec.settings):
            found.setdefault(item.name, (item, {}))[1][name] = item
    return found


def _help(declarations: dict[str, Field]) -> str:
    """One help per distinct meaning: methods that declare the setting alike share a line."""
    by_text: dict[str, list[str]] = {}
    for method, item in declarations.items():
        by_text.setdefault(f"{item.metadata['help']} (default {item.default})", []).append(method)
    return "; ".join(f"{', '.join(methods)}: {text}" for text, methods in by_text.items())


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("method settings (default: the method's own)")
    for name, (item, declarations) in _all_fields().items():
        group.add_argument(flag(name), type=argument_type(item), default=None,
                           metavar="INT" if type(item.default) is int else "X",
                           help=_help(declarations))


def argument_type(item: Field) -> Callable[[str], float]:
    """The argparse type of a setting: its declared range, refused at parse time like every other number flag."""
    minimum, maximum = item.metadata["minimum"], item.metadata["maximum"]
    if type(item.default) is int:
        return arg_types.whole_number(-(2**63) if minimum is None else int(minimum),
                                      2**63 - 1 if maximum is None else int(maximum))
    return arg_types.real_number(-math.inf if minimum is None else minimum, math.inf if maximum is None else maximum,
                                 above=item.metadata["above"])


def settings_from_args(spec: MethodSpec, args: argparse.Namespace) -> MethodSettings:
    """The chosen method's settings: its defaults, overridden by the flags given. InputError for a flag it does not
    take or a value out of its range (the message names the setting)."""
    given = {name: getattr(args, name) for name in _all_fields() if getattr(args, name, None) is not None}
    own = {item.name for item in fields(spec.settings)}
    foreign = sorted(set(given) - own)
    if foreign:
        raise InputError(f"{', '.join(map(flag, foreign))}: method {spec.name} has no such setting (its settings: "
                         f"{', '.join(map(flag, sorted(own))) or 'none'})")
    return spec.settings(**given)
