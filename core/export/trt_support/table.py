"""The ONNX-TensorRT operator support tables (`resources/onnx_tensorrt/operators-*.md`), read as data.

Each TensorRT version ships a markdown page: a header saying which opsets and data types the parser takes, then one
table row per operator (supported Y/N, supported types, restrictions in prose). Reading the page at run time keeps
the checker version-free: supporting a new TensorRT release means adding its page and one `TARGETS` line.

Example:
    >>> table = load_table("tensorrt8")
    >>> table.max_opset, table.rows["TopK"].restrictions
    (17, ('`K` input must be an initializer',))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from core.errors import InputError

TABLES_DIR = Path(__file__).resolve().parents[3] / "resources" / "onnx_tensorrt"


@dataclass(frozen=True)
class Target:
    """A deployment target: which table describes its TensorRT, and for which device."""

    key: str
    table_file: str
    description: str


TARGETS: dict[str, Target] = {
    "tensorrt8": Target("tensorrt8", "operators-8.5.md", "TensorRT 8.5 (JetPack 5.1, Jetson Xavier NX)"),
    # JetPack 6 ships TensorRT 10.3; the newest ONNX-TensorRT table at hand is 10.1's, the closest release below it.
    "tensorrt10": Target("tensorrt10", "operators-10.1.md", "TensorRT 10 (table 10.1; JetPack 6 ships 10.3 on Orin)"),
}

# The tables spell types two ways (header: FLOAT32, column: FP32) and once wrongly (INF64 in 10.1's ConstantOfShape).
_TYPE_SPELLINGS = {"FLOAT32": "FP32", "FLOAT": "FP32", "FLOAT16": "FP16", "BFLOAT16": "BF16", "INF64": "INT64"}


@dataclass(frozen=True)
class OperatorRow:
    """One operator's row. `restrictions` are the prose sentences of the last column, one per item."""

    operator: str
    supported: bool
    types: frozenset[str]
    restrictions: tuple[str, ...]


@dataclass(frozen=True)
class SupportTable:
    """A whole page: its rows plus the header's opset range and data-type rules.

    `cast_down` maps a type TensorRT accepts with limited support to the type it converts it to (INT64 -> INT32 on
    8.5); `io_only` are types allowed only on graph inputs and outputs (UINT8 on 10.x).
    """

    source: str
    version: str  # "TensorRT 8.5", from the file name
    min_opset: int
    max_opset: int
    data_types: frozenset[str]
    cast_down: dict[str, str]
    io_only: frozenset[str]
    rows: dict[str, OperatorRow]


def normalise_type(name: str) -> str:
    name = name.strip().upper()
    return _TYPE_SPELLINGS.get(name, name)


def get_target(target: str) -> Target:
    try:
        return TARGETS[target]
    except KeyError:
        raise InputError(f"unknown TensorRT target '{target}' (choose from {', '.join(TARGETS)})") from None


@lru_cache(maxsize=None)
def load_table(target: str) -> SupportTable:
    """The parsed table of `target` ("tensorrt8" or "tensorrt10"), read once per process."""
    path = TABLES_DIR / get_target(target).table_file
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read the TensorRT operator table ({error.strerror})") from None
    return parse_table(text, source=path.name)


def parse_table(text: str, source: str = "<text>") -> SupportTable:
    """Parse one ONNX-TensorRT `operators.md` page."""
    header, _, matrix = text.partition("## Operator Support Matrix")
    rows = dict(_parse_rows(matrix))
    if not rows:
        raise InputError(f"{source}: no operator support matrix found")
    min_opset, max_opset = _opset_range(header, source)
    data_types, cast_down, io_only = _data_type_rules(header)
    number = re.search(r"\d+(?:\.\d+)*", source)
    version = f"TensorRT {number.group(0)}" if number else "TensorRT"
    return SupportTable(source, version, min_opset, max_opset, data_types, cast_down, io_only, rows)


def _parse_rows(matrix: str):
    for line in matrix.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        cells += [""] * (4 - len(cells))
        name, supported, types, restrictions = cells[:4]
        if name in ("", "Operator") or set(name) <= {"-"}:
            continue  # the header row and its separator
        yield name, OperatorRow(
            operator=name,
            supported=supported.upper() == "Y",
            types=frozenset(normalise_type(t) for t in types.split(",") if t.strip()),
            restrictions=tuple(_sentences(restrictions)),
        )


def _sentences(cell: str) -> list[str]:
    """Restriction prose split into single statements (items are separated by `<br />` or by full stops)."""
    parts = []
    for item in re.split(r"<br\s*/?>", cell):
        parts += [s.strip().rstrip(".").strip() for s in re.split(r"(?<=\.)\s+", item)]
    return [part for part in parts if part]


def _opset_range(header: str, source: str) -> tuple[int, int]:
    # 8.5: "supports operators up to Opset 17"; 10.x: "in the inclusive range of opset 9 to opset 20".
    ranged = re.search(r"opset\s+(\d+)\s+to\s+opset\s+(\d+)", header, re.IGNORECASE)
    if ranged:
        return int(ranged.group(1)), int(ranged.group(2))
    upper = re.search(r"up to opset\s+(\d+)", header, re.IGNORECASE)
    if upper:
        return 1, int(upper.group(1))
    raise InputError(f"{source}: the header does not say which opsets TensorRT parses")


def _data_type_rules(header: str) -> tuple[frozenset[str], dict[str, str], frozenset[str]]:
    listed = re.search(r"supports the following ONNX data types:\s*([^\n]+)", header)
    names = re.split(r",\s*(?:and\s+)?|\s+and\s+", listed.group(1).rstrip(". ")) if listed else []
    data_types = {normalise_type(name) for name in names if name.strip()}
    # "limited support for INT32, INT64, and DOUBLE types": accepted, but converted as the same note says.
    limited = re.search(r"limited support for ([A-Z0-9, ]+?)(?:,\s*)?(?:and ([A-Z0-9]+) )?types?\b", header)
    if limited:
        data_types |= {normalise_type(n) for n in re.split(r",\s*", limited.group(1)) if n.strip()}
        if limited.group(2):
            data_types.add(normalise_type(limited.group(2)))
    cast_down = {}
    for before, after, before2, after2 in re.findall(r"down (\w+) to (\w+)|(\w+) down to (\w+)", header):
        source, target = (before, after) if before else (before2, after2)
        cast_down[normalise_type(source)] = normalise_type(target)
    io_only = {normalise_type(name) for name in
               re.findall(r"(\w+) is only supported as network input or output", header)}
    return frozenset(data_types), cast_down, frozenset(io_only)
