"""One colour per method, the same in the report's PNG figures and in the window's plots, so that a method is
recognised at a glance in both (matplotlib's "tab10" colours, assigned in name order)."""

from __future__ import annotations

from collections.abc import Iterable

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def colours_by_name(names: Iterable[str]) -> dict[str, str]:
    """`{name: "#rrggbb"}` for the distinct `names`, sorted, the colours repeating after ten."""
    return {name: COLOURS[index % len(COLOURS)] for index, name in enumerate(sorted(set(names)))}
