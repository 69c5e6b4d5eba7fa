"""`python -m core predict`: score images, write overlays (heat map, verdict, score) and a CSV of scores."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
from tqdm import tqdm

from core.data.dataset import list_images
from core.data.images import read_image, resize_image
from core.errors import InputError
from core.inference import predict_arrays
from core.jobs import run_to_end
from core.model_store import LoadedModel, load_model
from core.overlay import render_overlay


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("predict", help="score images and write overlays and a CSV")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR")
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGE|DIR")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.set_defaults(run=run)


def expand_inputs(inputs: list[Path]) -> list[Path]:
    paths: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = list_images(item)
            if not found:
                raise InputError(f"{item}: no images found in this folder")
            paths += found
        elif item.is_file():
            paths.append(item)
        else:
            raise InputError(f"{item}: no such file or folder")
    return paths


def write_predictions(model: LoadedModel, paths: list[Path], out: Path) -> list[dict[str, str]]:
    """Score each image, write `<stem>_overlay.png` into `out` and `scores.csv`; returns the CSV rows."""
    size = model.config.image_size
    thresholds = model.manifest["thresholds"]
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in tqdm(paths, desc="predict", unit="image", disable=None):
        image = read_image(path)
        scores, maps = run_to_end(predict_arrays(model.network, resize_image(image, size)[None]))
        score = float(scores[0])
        overlay = render_overlay(image, maps[0], low=thresholds["map_low"], threshold=model.threshold, score=score)
        # Names can repeat across folders (MVTec's 000.png in every defect folder): prefix the parent folder.
        overlay_path = out / f"{path.parent.name}_{path.stem}_overlay.png"
        cv2.imwrite(str(overlay_path), cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
        verdict = "NG" if score >= model.threshold else "OK"
        rows.append({"image": str(path), "score": f"{score:.6g}", "threshold": f"{model.threshold:.6g}",
                     "verdict": verdict, "overlay": str(overlay_path)})
    with (out / "scores.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["image", "score", "threshold", "verdict", "overlay"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def run(args: argparse.Namespace) -> int:
    rows = write_predictions(load_model(args.model), expand_inputs(args.inputs), args.out)
    ng = sum(row["verdict"] == "NG" for row in rows)
    print(f"{len(rows)} images, {ng} NG; overlays and scores.csv in {args.out}")
    return 0
