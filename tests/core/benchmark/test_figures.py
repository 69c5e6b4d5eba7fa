"""The benchmark's figures on hand-made records: the three PNGs written, what each draws (points, log axes, CPU
kind, PaSTe/STFPM pairs and ratios), and failed cells, missing values and a one-cell grid handled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_testkit import CPU, make_record
from PIL import Image

from core.benchmark.figures import FIG1, FIG6, FIGURE_FILES, LATENCY, draw_figures, paste_stfpm_pairs, write_figures


def grid_records() -> list[dict]:
    """Two backbones with STFPM and PaSTe, PatchCore on one, a per-category cell, a failed cell and missing values."""
    records = []
    for backbone, scale in (("tf_efficientnet_lite0", 1.0), ("mobilenetv2_100", 0.8)):
        records.append(make_record("stfpm", backbone, f1=0.52, memory_mb=5.3 * scale, macs=int(454e6 * scale),
                                   training_macs=int(900e6 * scale), training_rss_mb=96.0 * scale,
                                   parameters=int(2e6 * scale)))
        records.append(make_record("paste", backbone, f1=0.53, memory_mb=5.1 * scale, macs=int(341e6 * scale),
                                   training_macs=int(600e6 * scale), training_rss_mb=23.0 * scale,
                                   parameters=int(1.5e6 * scale)))
    records.append(make_record("patchcore", f1=0.53, memory_mb=31.1, macs=235_600_000, training_macs=None,
                               latency_int8=None))
    records.append(make_record("patchcore", setting="per-category", f1=0.6, memory_mb=20.0))
    records.append(make_record("cfa", status="failed"))
    records.append(make_record("padim", f1=None, memory_mb=49.4, latency_fp32=None, latency_int8=None))
    return records


def points(axes) -> list[tuple[float, float]]:  # noqa: ANN001 (matplotlib Axes)
    return [tuple(offset) for collection in axes.collections for offset in collection.get_offsets()]


def texts(figure) -> list[str]:  # noqa: ANN001 (matplotlib Figure)
    return [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]


def test_the_three_figures_are_written_as_png(tmp_path: Path) -> None:
    written = write_figures(grid_records(), tmp_path / "out")
    assert [path.name for path in written] == list(FIGURE_FILES)
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 300
            assert np.unique(np.asarray(image.convert("L"))).size > 20  # something is drawn
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == sorted(FIGURE_FILES)  # no temporaries


def test_fig1_draws_f1_against_memory_on_a_log_axis_with_marker_area_by_macs() -> None:
    figure = draw_figures(grid_records())[FIG1]
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    drawn = sorted(point for point in points(axes))
    # Six cells have both values: the failed cell and PaDiM (no F1) are left out.
    assert drawn == sorted([(5.3, 0.52), (5.1, 0.53), (5.3 * 0.8, 0.52), (5.1 * 0.8, 0.53), (31.1, 0.53),
                            (20.0, 0.6)])
    sizes = {tuple(collection.get_offsets()[0]): collection.get_sizes()[0] for collection in axes.collections
             if len(collection.get_offsets())}
    assert sizes[(5.3, 0.52)] > sizes[(5.1, 0.53)] > sizes[(31.1, 0.53)]  # 454 M > 341 M > 236 M MACs
    labels = texts(figure)
    for name in ("stfpm", "paste", "patchcore", "tf_efficientnet_lite0", "mobilenetv2_100", "hollow: per-category",
                 "inference MACs"):
        assert name in labels
    assert "cfa" not in labels and "padim" not in labels


def test_accuracy_against_latency_has_an_fp32_and_an_int8_panel_and_names_the_cpu() -> None:
    figure = draw_figures(grid_records())[LATENCY]
    fp32, int8 = figure.axes[:2]
    assert (fp32.get_title(), int8.get_title()) == ("FP32", "INT8 (PTQ)")
    assert len(points(fp32)) == 6 and len(points(int8)) == 5  # one PatchCore cell has no INT8 latency
    assert f"Accuracy against latency on {CPU}" in texts(figure)
    assert fp32.get_xscale() == int8.get_xscale() == "linear"  # 10 ms everywhere: nothing to stretch
    spread = [make_record("stfpm", latency_fp32=2.0, latency_int8=1.5), make_record("cfa", latency_fp32=100.0)]
    assert [axes.get_xscale() for axes in draw_figures(spread)[LATENCY].axes[:2]] == ["log", "log"]
    only_fp32 = [make_record(latency_int8=None)]
    figure = draw_figures(only_fp32)[LATENCY]
    assert "no INT8 (PTQ) latency measured" in texts(figure) and len(points(figure.axes[0])) == 1


def test_fig6_compares_paste_with_stfpm_per_backbone_with_ratios() -> None:
    figure = draw_figures(grid_records())[FIG6]
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["pixel F1-max", "parameters (M)", "inference MACs (M)", "training MACs per image (M)",
                      "training RAM per image (MB)"]
    macs = figure.axes[2]
    assert sorted(round(bar.get_height(), 1) for bar in macs.patches) == sorted(
        [454.0, 341.0, round(454e6 * 0.8 / 1e6, 1), round(341e6 * 0.8 / 1e6, 1)])
    assert [tick.get_text() for tick in macs.get_xticklabels()] == ["mobilenetv2_100", "effnet-lite0"]
    labels = texts(figure)
    assert "0.75x" in labels and "0.24x" in labels  # inference MACs 341/454, training RAM 23/96


def test_pairs_prefer_unified_equiv_cells_and_need_both_methods() -> None:
    records = [make_record("stfpm", setting="per-category"), make_record("stfpm", layer_group="low"),
               make_record("stfpm"), make_record("paste", layer_group="paste"),
               make_record("stfpm", "resnet18")]
    pairs = paste_stfpm_pairs(records)
    assert [(backbone, stfpm["name"], paste["name"]) for backbone, stfpm, paste in pairs] == [
        ("tf_efficientnet_lite0", "stfpm/tf_efficientnet_lite0/equiv/unified",
         "paste/tf_efficientnet_lite0/paste/unified")]  # resnet18 has no PaSTe cell


def test_one_cell_draws_and_what_cannot_be_drawn_is_not_written(tmp_path: Path) -> None:
    written = write_figures([make_record()], tmp_path / "one")
    assert [path.name for path in written] == [FIG1, LATENCY]  # no PaSTe/STFPM pair, so no Fig. 6
    assert write_figures([make_record(status="failed")], tmp_path / "none") == []
    assert write_figures([], tmp_path / "none") == [] and not (tmp_path / "none").exists()
    no_values = make_record(f1=None, image_auroc=None, memory_mb=None, latency_fp32=None, latency_int8=None)
    assert draw_figures([no_values]) == {}


@pytest.mark.parametrize("broken", [{"resources": None}, {"metrics": {"mean": {"pixel_f1_max": "0.5"}}},
                                    {"metrics": None, "resources": {"memory_mb": float("inf")}}])
def test_malformed_values_are_skipped_not_crashes(broken: dict) -> None:
    record = {**make_record("stfpm"), **broken}
    figures = draw_figures([record, make_record("paste", memory_mb=2.0)])
    assert FIG1 in figures and len(points(figures[FIG1].axes[0])) == 1


@pytest.mark.parametrize(("memories", "labels"), [((7.7, 15.2), ["8", "10", "12", "15"]),
                                                  ((3.0, 300.0), ["5", "10", "20", "50", "100", "200"])])
def test_log_axes_are_labelled_in_plain_numbers_near_the_points(memories: tuple[float, float],
                                                                labels: list[str]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = draw_figures([make_record(memory_mb=memory) for memory in memories])[FIG1]
    FigureCanvasAgg(figure).draw()
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    shown = [label.get_text() for tick, label in zip(axes.get_xticks(), axes.get_xticklabels()) if low <= tick <= high]
    assert shown == labels
