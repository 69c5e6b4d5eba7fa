"""`train` on data folders that cannot be trained on: refused at once, naming the folder, the model at --out kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from bad_input_testkit import error_line, run_cli, snapshot
from PIL import Image

from core.data.dataset import MIN_TRAINING_IMAGES
from tests.conftest import make_mvtec_category

REPO = Path(__file__).resolve().parents[3]


def write_images(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{index:02d}.png")
    return folder


def refused_train(data: list[Path] | Path, out: Path, *fragments: object) -> str:
    """Train on `data` into the existing model `out`: refused with a line naming `fragments`, `out` untouched."""
    before = snapshot(out)
    folders = data if isinstance(data, list) else [data]
    result = run_cli("train", "--data", *folders, "--method", "patchcore", "--image-size", 32, "--weights", "random",
                     "--out", out)
    line = error_line(result, *fragments)
    assert snapshot(out) == before
    assert not [path for path in out.parent.iterdir() if path.name.endswith(".partial")]
    return line


def test_missing_folder(tmp_path: Path, existing_model: Path) -> None:
    refused_train(tmp_path / "no-such-folder", existing_model, tmp_path / "no-such-folder", "folder does not exist")


def test_a_file_given_as_the_folder(tmp_path: Path, existing_model: Path) -> None:
    image = write_images(tmp_path / "images", 1) / "00.png"
    refused_train(image, existing_model, image, "is not a folder")


def test_empty_folder(tmp_path: Path, existing_model: Path) -> None:
    (tmp_path / "empty").mkdir()
    refused_train(tmp_path / "empty", existing_model, tmp_path / "empty", "no images found")


def test_folder_without_images(tmp_path: Path, existing_model: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "scan.png").mkdir(parents=True)  # a folder named like an image
    (folder / "readme.txt").write_text("parts of line 3")
    (folder / "._000.png").write_bytes(b"\x00\x05\x16\x07")  # a macOS resource fork, hidden
    refused_train(folder, existing_model, folder, "no images found", ".png")


@pytest.mark.parametrize("count", [1, 3, MIN_TRAINING_IMAGES - 1])
def test_too_few_images_says_the_minimum(tmp_path: Path, existing_model: Path, count: int) -> None:
    folder = write_images(tmp_path / "few", count)
    refused_train(folder, existing_model, folder, f"{count} normal image", f"at least {MIN_TRAINING_IMAGES} are needed")


def test_too_few_images_in_mvtec_layout_names_train_good(tmp_path: Path, existing_model: Path) -> None:
    category = make_mvtec_category(tmp_path / "data", "tiny", size=32, train=2, good=1, bad=1)
    refused_train(category, existing_model, category / "train" / "good", "2 normal images")


def test_one_good_category_does_not_hide_a_too_small_one(tmp_path: Path, existing_model: Path,
                                                           category: Path) -> None:
    small = write_images(tmp_path / "small", 2)
    refused_train([category, small], existing_model, small, "2 normal images")


def test_every_image_unreadable(tmp_path: Path, existing_model: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    for index in range(MIN_TRAINING_IMAGES + 1):
        (folder / f"{index}.png").write_text("not a picture")
    refused_train(folder, existing_model, "could be read", "not an image file", folder)


def test_mvtec_layout_without_train_good(tmp_path: Path, existing_model: Path) -> None:
    category = make_mvtec_category(tmp_path / "data", "bottle", size=32)
    for image in (category / "train" / "good").iterdir():
        image.unlink()
    (category / "train" / "good").rmdir()
    refused_train(category, existing_model, category, "looks like the MVTec AD layout", "train/good")


def test_two_categories_with_one_name(tmp_path: Path, existing_model: Path) -> None:
    first, second = write_images(tmp_path / "a" / "cup", 6), write_images(tmp_path / "b" / "cup", 6)
    refused_train([first, second], existing_model, "category name 'cup'", second)


def test_parent_of_mvtec_categories(tmp_path: Path, existing_model: Path) -> None:
    make_mvtec_category(tmp_path / "mvtec", "bottle", size=32)
    refused_train(tmp_path / "mvtec", existing_model, tmp_path / "mvtec", "holds whole categories", "bottle")


def test_real_entry_point_prints_one_line(tmp_path: Path) -> None:
    """`python -m core` itself, as an operator types it: status 2, the folder named, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "core", "train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "m")],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {tmp_path / 'missing'}: folder does not exist"
    assert not (tmp_path / "m").exists()
