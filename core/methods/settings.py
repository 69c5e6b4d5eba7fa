"""A method's hyper-parameters: one frozen dataclass per method, every field declared with `setting(...)`.

The declaration is all the rest of the engine needs: the CLI makes a flag of each field, the Train page a control,
the manifest stores `to_dict()`, and out-of-range values are refused here, once, naming the field.

Example:
    >>> @dataclass(frozen=True)
    ... class MySettings(MethodSettings):
    ...     epochs: int = setting(25, "training epochs", minimum=1, maximum=10_000)
    >>> MySettings(epochs=0)   # InputError: epochs 0: must be at least 1
"""

from __future__ import annotations

import math
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any

from core.errors import InputError


def setting(default: int | float, help: str, minimum: float | None = None, maximum: float | None = None,
            above: bool = False) -> Any:  # noqa: A002 - "help" as argparse names it
    """A settings field: its default, a one-line help and its range (`above`: strictly greater than minimum)."""
    return field(default=default, metadata={"help": help, "minimum": minimum, "maximum": maximum, "above": above})


@dataclass(frozen=True)
class MethodSettings:
    """Base of every method's settings; the subclass declares the fields."""

    def __post_init__(self) -> None:
        for item in fields(self):
            check_setting(item, getattr(self, item.name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> "MethodSettings":
        """Settings from saved values; `where` names the file or flag they came from, for the error message."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown setting{'s' * (len(unknown) > 1)} {', '.join(unknown)} "
                             f"(this method takes {', '.join(sorted(known)) or 'none'})")
        return cls(**data)


def check_setting(item: Field, value: object) -> None:
    """InputError naming the setting when `value` has the wrong type or lies outside the declared range."""
    kind = type(item.default)
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int))
            or not math.isfinite(value)):
        raise InputError(f"{item.name} {value!r}: must be {'a whole number' if kind is int else 'a number'}")
    minimum, maximum, above = item.metadata["minimum"], item.metadata["maximum"], item.metadata["above"]
    if minimum is not None and (value <= minimum if above else value < minimum):
        raise InputError(f"{item.name} {value!r}: must be {'above' if above else 'at least'} {minimum}")
    if maximum is not None and value > maximum:
        raise InputError(f"{item.name} {value!r}: must be at most {maximum}")
