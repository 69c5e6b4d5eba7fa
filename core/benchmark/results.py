"""OUT/results.json (one record per cell, rewritten atomically after every cell) and OUT/results.csv.

Format 1: {"format": 1, "cells": [record, ...]}; the record's fields are listed in the grid's interface document
(issue 11) and made by `core.benchmark.attempt.run_cell_process`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.files import write_file_atomically

RESULTS = "results.json"
CSV = "results.csv"
FORMAT = 1
METRICS = ("image_auroc", "pixel_auroc", "pixel_f1_max", "aupro")
RESOURCES = ("parameters", "memory_mb", "inference_macs", "training_macs_per_image", "training_step_mb_per_image",
             "peak_training_rss_mb", "fit_rss_increase_mb", "fit_seconds_per_image", "onnx_mb")


def read_results(out: Path) -> list[dict[str, Any]]:
    """The records of OUT/results.json ([] when absent). InputError naming the file when it is not ours."""
    path = Path(out) / RESULTS
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not a readable benchmark results file ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("cells"), list):
        raise InputError(f"{path}: not a format-{FORMAT} benchmark results file; move it away or choose another --out")
    return data["cells"]


def write_results(out: Path, records: Sequence[dict[str, Any]]) -> Path:
    """Replace OUT/results.json in one step: a reader, or a restart after a kill, sees the old file or the new."""
    text = json.dumps({"format": FORMAT, "cells": list(records)}, indent=2) + "\n"
    return write_file_atomically(Path(out) / RESULTS, text.encode())


def csv_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell and category, and one for the cell's mean; resources repeated on each row of the cell."""
    rows = []
    for record in records:
        base = {key: record[key] for key in ("name", "method", "backbone", "layer_group", "setting", "status")}
        base["layers"] = " ".join(map(str, record["layers"]))
        base["error"] = record.get("error") or ""
        resources = record.get("resources") or {}
        latency = resources.get("latency_ms") or {}
        base.update({key: resources.get(key) for key in RESOURCES})
        base.update({"latency_fp32_ms": latency.get("fp32"), "latency_int8_ms": latency.get("int8"),
                     "cpu": record.get("cpu")})
        metrics = record.get("metrics") or {"categories": {}, "mean": {}}
        for category, values in [*metrics["categories"].items(), ("mean", metrics["mean"])]:
            rows.append({**base, "category": category, **{key: values.get(key) for key in METRICS}})
    return rows


def write_csv(out: Path, records: Sequence[dict[str, Any]]) -> Path:
    rows = csv_rows(records)
    columns = ["name", "method", "backbone", "layer_group", "layers", "setting", "category", *METRICS, *RESOURCES,
               "latency_fp32_ms", "latency_int8_ms", "cpu", "status", "error"]
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_file_atomically(Path(out) / CSV, stream.getvalue().encode())
