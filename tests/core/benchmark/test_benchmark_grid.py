"""The grid's cells, and its files: results.json written atomically, results.csv and report.md."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from core.benchmark.grid import Cell, GridSpec, cells
from core.benchmark.report import paste_pairs, write_report
from core.benchmark.results import read_results, write_csv, write_results
from core.errors import InputError

DATA = (Path("/data/bottle"), Path("/data/tile"))


def spec(**changes) -> GridSpec:
    fields = dict(data=DATA, methods=("stfpm", "paste"), backbones=("tf_efficientnet_lite0", "mobilenetv2_100"),
                  layer_groups=("equiv", "low"), settings=("unified", "per-category"), image_size=64, epochs=1)
    return GridSpec(**{**fields, **changes})


def test_every_combination_is_one_cell_and_per_category_cells_take_one_folder() -> None:
    found = cells(spec())
    assert len(found) == 2 * 2 * 2 * (1 + len(DATA))
    names = [cell.name for cell in found]
    assert len(set(names)) == len(names)
    assert names[:3] == ["stfpm/tf_efficientnet_lite0/equiv/unified",
                         "stfpm/tf_efficientnet_lite0/equiv/per-category/bottle",
                         "stfpm/tf_efficientnet_lite0/equiv/per-category/tile"]
    unified = found[0]
    assert unified.data == DATA and unified.image_size == 64 and unified.epochs == 1
    assert found[1].data == (DATA[0],) and found[2].data == (DATA[1],)
    assert unified.layers == (3, 9, 14)  # Lite0's equiv group, from the backbone table
    assert "/" not in unified.safe_name
    assert Cell.from_json(json.loads(json.dumps(found[2].to_json()))) == found[2]


def test_the_default_group_is_each_methods_own_and_is_not_run_twice() -> None:
    found = cells(spec(methods=("stfpm", "paste", "patchcore"), backbones=("tf_efficientnet_lite0",),
                       layer_groups=("default", "equiv"), settings=("unified",)))
    assert [cell.name for cell in found] == [
        "stfpm/tf_efficientnet_lite0/equiv/unified",  # STFPM's own group is equiv: one cell, not two
        "paste/tf_efficientnet_lite0/paste/unified", "paste/tf_efficientnet_lite0/equiv/unified",
        "patchcore/tf_efficientnet_lite0/patchcore/unified", "patchcore/tf_efficientnet_lite0/equiv/unified"]


@pytest.mark.parametrize("change, message", [
    ({"methods": ("nope",)}, "unknown method 'nope'"),
    ({"backbones": ("nope",)}, "unknown backbone 'nope'"),
    ({"layer_groups": ("nope",)}, "unknown layer group 'nope'"),
    ({"settings": ("nope",)}, "unknown setting 'nope'"),
    ({"data": ()}, "at least one category folder"),
])
def test_a_wrong_grid_is_refused_before_anything_runs(change: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        cells(spec(**change))


def record(name: str, method: str, macs: int, rss: float, training_macs: int | None = 10, status: str = "done",
           group: str = "equiv") -> dict:
    metrics = {"image_auroc": 0.9, "pixel_auroc": 0.8, "pixel_f1_max": 0.5, "aupro": None}
    return {"name": name, "method": method, "backbone": "tf_efficientnet_lite0", "layer_group": group,
            "setting": "unified", "layers": [3, 9, 14], "image_size": 64, "data": ["/data/a"], "status": status,
            "error": None if status == "done" else "InputError: broken", "attempts": 1 if status == "done" else 2,
            "model_dir": None, "cpu": "x86 AVX2",
            "metrics": None if status != "done" else {"categories": {"a": metrics}, "mean": metrics},
            "resources": None if status != "done" else {
                "parameters": 1000, "memory_mb": 1.5, "inference_macs": macs, "training_macs_per_image": training_macs,
                "training_step_mb_per_image": None if training_macs is None else rss / 5, "peak_training_rss_mb": rss, "fit_rss_increase_mb": rss / 2, "fit_seconds_per_image": 0.1,
                "onnx_mb": 1.0, "latency_ms": {"fp32": 2.0, "int8": None}}}


RECORDS = [record("stfpm/a", "stfpm", 1000, 100.0), record("paste/a", "paste", 700, 50.0, training_macs=5),
           record("patchcore/a", "patchcore", 900, 80.0, training_macs=None),
           record("cfa/a", "cfa", 0, 0, status="failed")]


def test_results_round_trip_and_a_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    assert read_results(tmp_path) == []
    write_results(tmp_path, RECORDS[:1])
    assert read_results(tmp_path) == RECORDS[:1]

    def no_sync(descriptor: int) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "fsync", no_sync)
    with pytest.raises(OSError, match="disk went away"):
        write_results(tmp_path, RECORDS)
    monkeypatch.undo()
    assert read_results(tmp_path) == RECORDS[:1]  # the old file, whole
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]  # and no temporary left beside it


def test_a_results_file_of_another_kind_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"stfpm-unified": {}}')
    with pytest.raises(InputError, match="results.json: not a format-1 benchmark results file"):
        read_results(tmp_path)


def test_csv_has_a_row_per_category_and_mean_and_the_report_compares_paste_with_stfpm(tmp_path: Path) -> None:
    write_csv(tmp_path, RECORDS)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(row["name"], row["category"]) for row in rows] == [
        ("stfpm/a", "a"), ("stfpm/a", "mean"), ("paste/a", "a"), ("paste/a", "mean"), ("patchcore/a", "a"),
        ("patchcore/a", "mean"), ("cfa/a", "mean")]
    assert rows[0]["inference_macs"] == "1000" and rows[-1]["status"] == "failed"
    assert rows[-1]["error"] == "InputError: broken"

    assert [(paste["name"], stfpm["name"]) for paste, stfpm in paste_pairs(RECORDS)] == [("paste/a", "stfpm/a")]
    report = write_report(tmp_path, RECORDS).read_text()
    assert "| paste/a | done | 0.900 | 0.800 | 0.500 | n/a |" in report
    assert "failed: InputError: broken" in report
    # inference MACs 0.70x (target <= 0.8x: met), training RAM 0.50x (target <= 0.4x: missed), RSS shown beside it
    assert "| tf_efficientnet_lite0 | equiv vs equiv | unified | 0.70x ✓ | 0.50x | 0.50x ✗ | 0.50x |" in report


def test_paste_with_its_own_group_is_paired_with_stfpm_on_equiv() -> None:
    records = [record("stfpm/e", "stfpm", 1000, 100.0), record("stfpm/l", "stfpm", 500, 100.0, group="low"),
               record("paste/p", "paste", 700, 50.0, group="paste")]
    assert [(paste["name"], stfpm["name"]) for paste, stfpm in paste_pairs(records)] == [("paste/p", "stfpm/e")]
