"""`python -m core predict`: score images, write overlays (heat map, verdict, score) and a CSV of scores."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
from tqdm import tqdm

from core.commands import arg_types
from core.data.dataset import expand_image_inputs
from core.data.images import read_image, read_image_hw, resize_image
from core.errors import InputError
from core.inference import predict_arrays
from core.jobs import run_to_end
from core.model_store import LoadedModel, load_model
from core.overlay import render_overlay


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict")  # its --help line: core.cli.COMMANDS
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE|DIR")
    parser.add_argument("--out", type=arg_types.output_folder, required=True, metavar="DIR")
    parser.set_defaults(run=run)


def expand_inputs(inputs: list[Path]) -> list[Path]:
    paths = expand_image_inputs(inputs)
    for path in paths:
        read_image_hw(path)  # the header only: an empty, foreign or absurdly large file stops before any output
    return paths


def write_predictions(model: LoadedModel, paths: list[Path], out: Path) -> list[dict[str, str]]:
    """Score each image, write `<stem>_overlay.png` into `out` and `scores.csv`; returns the CSV rows."""
    size = model.config.image_size
    if not paths:
        raise InputError("no images to score")
    rows: list[dict[str, str]] = []
    taken: set[Path] = set()
    for path in tqdm(paths, desc="predict", unit="image", disable=None):
        image = read_image(path)
        out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
        scores, maps = run_to_end(predict_arrays(model.network, resize_image(image, size)[None]))
        score = float(scores[0])
        overlay = render_overlay(image, maps[0], low=model.map_low, threshold=model.threshold, score=score)
        overlay_path = _overlay_path(out, path, taken)
        if not cv2.imwrite(str(overlay_path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR)):
            raise InputError(f"{overlay_path}: the overlay could not be written")
        verdict = "NG" if score >= model.threshold else "OK"
        rows.append({"image": str(path), "score": f"{score:.6g}", "threshold": f"{model.threshold:.6g}",
                     "verdict": verdict, "overlay": str(overlay_path)})
    with (out / "scores.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["image", "score", "threshold", "verdict", "overlay"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def _overlay_path(out: Path, image: Path, taken: set[Path]) -> Path:
    """`<folder>_<stem>_overlay.png`, numbered when that name is taken: names repeat across folders (MVTec's 000.png
    in every defect folder) and formats (a.png beside a.tif), and one overlay must never overwrite another."""
    stem = f"{image.parent.name}_{image.stem}"
    candidate, number = out / f"{stem}_overlay.png", 1
    while candidate in taken:
        number += 1
        candidate = out / f"{stem}_{number}_overlay.png"
    taken.add(candidate)
    return candidate


def run(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.inputs)  # before the model loads: a wrong path is told at once
    rows = write_predictions(load_model(args.model), paths, args.out)
    ng = sum(row["verdict"] == "NG" for row in rows)
    print(f"{len(rows)} images, {ng} NG; overlays and scores.csv in {args.out}")
    return 0
