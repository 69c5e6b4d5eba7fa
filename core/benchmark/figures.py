"""The benchmark's pictures, as PNG files beside its report (matplotlib, drawn off screen).

- `fig1_f1_vs_memory.png`: the PaSTe paper's Fig. 1, pixel F1-max against model memory (log scale), marker area by
  inference MACs, colour by method, symbol by backbone;
- `accuracy_vs_latency.png`: mean image AUROC against ONNX Runtime latency, FP32 and INT8 side by side, the CPU
  kind (the INT8 kernel path) in the title;
- `fig6_paste_vs_stfpm.png`: the paper's Fig. 6, PaSTe against STFPM per backbone in grouped bars: pixel F1,
  parameters, inference MACs, training MACs per image and training RAM per image, PaSTe's ratio to STFPM on its bars.

Failed cells and missing values are left out, never drawn as zeros; a figure with nothing to show is not written.
`matplotlib.figure.Figure` is used without pyplot: no global backend or figure registry, so drawing is safe on any
thread (the window writes figures on a worker) and never opens a window. matplotlib is imported here only, so
that importing the benchmark package (or the window) does not load it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from core.benchmark.palette import colours_by_name
from core.benchmark.values import is_done, value
from core.files import write_file_atomically

FIG1 = "fig1_f1_vs_memory.png"
LATENCY = "accuracy_vs_latency.png"
FIG6 = "fig6_paste_vs_stfpm.png"
FIGURE_FILES = (FIG1, LATENCY, FIG6)
PASTE, STFPM = "paste", "stfpm"  # Fig. 6 is about this pair by definition
DPI = 110
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
_SMALLEST, _LARGEST = 30.0, 600.0  # marker areas (points^2) of the fewest and the most MACs
Record = Mapping[str, Any]


def write_figures(records: Iterable[Record], out_dir: Path) -> list[Path]:
    """Draw the figures the done cells of `records` allow into `out_dir`; returns the files written.

    Example:
        >>> write_figures(read_results(out), out)
        [PosixPath('out/fig1_f1_vs_memory.png'), PosixPath('out/accuracy_vs_latency.png')]
    """
    figures = draw_figures(records)
    if figures:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    return [_save(figure, Path(out_dir) / name) for name, figure in figures.items()]


def draw_figures(records: Iterable[Record]) -> dict[str, Figure]:
    """The figures the done cells of `records` allow, by file name, in `FIGURE_FILES` order."""
    done = [record for record in records if is_done(record)]
    styles = Styles(done)
    drawn = {name: draw(done, styles) for name, draw in ((FIG1, _fig1), (LATENCY, _accuracy_latency),
                                                          (FIG6, _fig6))}
    return {name: figure for name, figure in drawn.items() if figure is not None}


class Styles:
    """One colour per method and one marker per backbone, the same in every figure of one call."""

    def __init__(self, records: Sequence[Record]) -> None:
        backbones = sorted({str(record["backbone"]) for record in records})
        self.colours = colours_by_name(str(record["method"]) for record in records)
        self.markers = {name: _MARKERS[index % len(_MARKERS)] for index, name in enumerate(backbones)}

    def scatter(self, axes: Any, records: Sequence[Record], x: str, y: str,
                sizes: Sequence[float] | None = None) -> int:
        """One marker per record that has both values; per-category cells hollow. Returns how many were drawn."""
        drawn = 0
        for index, record in enumerate(records):
            x_value, y_value = value(record, x), value(record, y)
            if x_value is None or y_value is None:
                continue
            colour = self.colours[str(record["method"])]
            hollow = record.get("setting") == "per-category"
            axes.scatter([x_value], [y_value], s=sizes[index] if sizes else 60.0,
                         marker=self.markers[str(record["backbone"])], facecolors="none" if hollow else colour,
                         edgecolors=colour if hollow else "#222222", linewidths=1.2 if hollow else 0.6,
                         alpha=0.85, zorder=3)
            drawn += 1
        return drawn

    def legends(self, axes: Any, records: Sequence[Record]) -> None:
        """Method colours and backbone symbols, outside the axes on the right."""
        methods = sorted({str(record["method"]) for record in records})
        backbones = sorted({str(record["backbone"]) for record in records})
        method_handles = [Line2D([], [], linestyle="", marker="o", markersize=8, color=self.colours[name],
                                 label=name) for name in methods]
        backbone_handles = [Line2D([], [], linestyle="", marker=self.markers[name], markersize=8, color="#555555",
                                   label=name) for name in backbones]
        if any(record.get("setting") == "per-category" for record in records):
            backbone_handles.append(Line2D([], [], linestyle="", marker="o", markersize=8, markerfacecolor="none",
                                           color="#555555", label="hollow: per-category"))
        _legend_beside(axes, method_handles, "method", 1.0)
        _legend_beside(axes, backbone_handles, "backbone", 0.5)


def _legend_beside(axes: Any, handles: list[Any], title: str, top: float, **style: Any) -> None:
    """A legend to the right of `axes`, `top` its upper edge in axes units. A figure legend, not an axes one: an
    axes holds one legend of its own, and artists added to it are clipped to it when the PNG is cut to size."""
    axes.figure.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.02, top),
                       bbox_transform=axes.transAxes, fontsize=8, title_fontsize=9, **style)


def _fig1(records: Sequence[Record], styles: Styles) -> Figure | None:
    points = [record for record in records
              if value(record, "memory_mb") is not None and value(record, "pixel_f1_max") is not None]
    if not points:
        return None
    macs = [value(record, "inference_macs") for record in points]
    known = [count for count in macs if count is not None]
    largest = max(known, default=0.0) or 1.0
    sizes = [_SMALLEST if count is None else _SMALLEST + (_LARGEST - _SMALLEST) * count / largest for count in macs]
    figure = Figure(figsize=(9.5, 5.8), dpi=DPI)
    axes = figure.add_subplot()
    styles.scatter(axes, points, "memory_mb", "pixel_f1_max", sizes)
    _log_x(axes, _spread(points, "memory_mb"))
    axes.set_xlabel("model memory: weights + memory bank or statistics (MB, log scale)")
    axes.set_ylabel("mean pixel F1-max")
    axes.set_title("Pixel F1 against memory (marker area: inference MACs)")
    axes.grid(True, which="both", alpha=0.3)
    styles.legends(axes, points)
    if known:  # three reference areas, so that a marker's size reads as a number
        references = [largest / 4, largest / 2, largest]
        handles = [Line2D([], [], linestyle="", marker="o", color="#bbbbbb", markeredgecolor="#222222",
                          markersize=math.sqrt(_SMALLEST + (_LARGEST - _SMALLEST) * count / largest),
                          label=_macs_text(count)) for count in references]  # markersize: the side of the area
        axes.figure.legend(handles=handles, title="inference MACs", loc="upper center", bbox_to_anchor=(0.5, -0.13),
                           bbox_transform=axes.transAxes, ncols=len(handles), fontsize=8, title_fontsize=9,
                           borderpad=0.9, columnspacing=2.5)
    return figure


def _accuracy_latency(records: Sequence[Record], styles: Styles) -> Figure | None:
    panels = (("latency_fp32", "FP32"), ("latency_int8", "INT8 (PTQ)"))
    drawable = [record for record in records if value(record, "image_auroc") is not None
                and any(value(record, latency) is not None for latency, _ in panels)]
    if not drawable:
        return None
    figure = Figure(figsize=(12, 5.2), dpi=DPI)
    axes_pair = figure.subplots(1, 2, sharey=True)
    # Memory banks and students differ by orders of magnitude; both panels alike, so that they read side by side.
    spread = max(_spread(drawable, latency) for latency, _ in panels)
    log = spread > 20
    for axes, (latency, title) in zip(axes_pair, panels):
        drawn = styles.scatter(axes, drawable, latency, "image_auroc")
        if not drawn:
            axes.text(0.5, 0.5, f"no {title} latency measured", ha="center", va="center", transform=axes.transAxes,
                      color="#777777")
        elif log:
            _log_x(axes, spread)
        axes.set_title(title)
        axes.set_xlabel("ONNX Runtime median latency (ms, one image" + (", log scale)" if log else ")"))
        axes.grid(True, which="both", alpha=0.3)
    axes_pair[0].set_ylabel("mean image AUROC")
    cpus = sorted({str(record.get("cpu")) for record in drawable if record.get("cpu")})
    figure.suptitle("Accuracy against latency on " + (", ".join(cpus) if cpus else "an unrecorded CPU"))
    styles.legends(axes_pair[1], drawable)
    return figure


FIG6_PANELS = (("pixel_f1_max", "pixel F1-max", 1.0), ("parameters", "parameters (M)", 1e-6),
               ("inference_macs", "inference MACs (M)", 1e-6),
               ("training_macs_per_image", "training MACs per image (M)", 1e-6),
               ("training_step_mb_per_image", "training RAM per image (MB)", 1.0))


def paste_stfpm_pairs(records: Sequence[Record]) -> list[tuple[str, Record, Record]]:
    """Per backbone that has both, the STFPM and the PaSTe cell to compare: unified before per-category, the
    `equiv` group before others, so that both use the layers the paper compares."""
    def rank(record: Record) -> tuple[int, int, str]:
        return (record.get("setting") != "unified", record.get("layer_group") != "equiv", str(record["name"]))

    pairs = []
    for backbone in sorted({str(record["backbone"]) for record in records}):
        chosen = {}
        for method in (STFPM, PASTE):
            candidates = sorted((record for record in records
                                 if record["backbone"] == backbone and record["method"] == method), key=rank)
            if candidates:
                chosen[method] = candidates[0]
        if len(chosen) == 2:
            pairs.append((backbone, chosen[STFPM], chosen[PASTE]))
    return pairs


def _fig6(records: Sequence[Record], styles: Styles) -> Figure | None:
    pairs = paste_stfpm_pairs(records)
    if not pairs:
        return None
    figure = Figure(figsize=(3.2 * len(FIG6_PANELS), 4.8), dpi=DPI)
    panels = figure.subplots(1, len(FIG6_PANELS))
    width = 0.38
    for axes, (name, label, scale) in zip(panels, FIG6_PANELS):
        for index, (_backbone, stfpm, paste) in enumerate(pairs):
            before, after = value(stfpm, name), value(paste, name)
            for offset, method, amount in ((-width / 2, STFPM, before), (width / 2, PASTE, after)):
                if amount is not None:
                    axes.bar(index + offset, amount * scale, width, color=styles.colours[method],
                             edgecolor="#222222", linewidth=0.5)
            if before and after is not None:
                axes.annotate(f"{after / before:.2f}x", (index + width / 2, after * scale), ha="center",
                              va="bottom", fontsize=7, xytext=(0, 2), textcoords="offset points")
        axes.set_title(label, fontsize=10)
        axes.set_xticks(range(len(pairs)), [_short(backbone) for backbone, _, _ in pairs], rotation=30,
                        ha="right", fontsize=8)
        axes.grid(True, axis="y", alpha=0.3)
        axes.margins(y=0.12)
        axes.set_xlim(-0.75, len(pairs) - 0.25)  # one backbone keeps bars of the same width as several
    handles = [Line2D([], [], linestyle="", marker="s", markersize=9, color=styles.colours[method],
                      label=method_label) for method, method_label in ((STFPM, "STFPM"), (PASTE, "PaSTe"))]
    figure.legend(handles=handles, loc="upper right", ncols=2, fontsize=9)
    figure.suptitle("PaSTe against STFPM per backbone (label: PaSTe / STFPM)")
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    return figure


def _log_x(axes: Any, spread: float) -> None:
    """A log x axis labelled in plain numbers ("20", "50", not only "10^1"): at 1, 2 and 5 of each decade, more
    often when the cells lie closer together (`spread`: largest over smallest value), so that some label is near."""
    axes.set_xscale("log")
    axes.margins(x=0.08)
    subs = (1, 2, 5) if spread >= 10 else tuple(range(1, 10)) if spread >= 3 else (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8)
    axes.xaxis.set_major_locator(LogLocator(subs=tuple(float(sub) for sub in subs)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda number, _position: f"{number:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())


def _spread(records: Sequence[Record], name: str) -> float:
    """Largest over smallest positive value: how many times apart the cells are on this axis."""
    values = [amount for record in records if (amount := value(record, name)) is not None and amount > 0]
    return max(values) / min(values) if values else 1.0


def _macs_text(count: float) -> str:
    return f"{count / 1e9:.2f} G" if count >= 1e9 else f"{count / 1e6:.0f} M"


def _short(backbone: str) -> str:
    """timm names are long; the tick labels keep what tells them apart."""
    return backbone.removeprefix("tf_").replace("efficientnet_", "effnet-")


def _save(figure: Figure, path: Path) -> Path:
    """PNG written atomically: a report being read never shows half a picture."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return write_file_atomically(path, buffer.getvalue())

