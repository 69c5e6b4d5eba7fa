"""Defect masks that cannot be used: `evaluate` (and `train`, whose discovery checks them first) stop, naming the
mask or the image it is missing for, and write no report."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from bad_input_testkit import error_line, run_cli, snapshot
from PIL import Image

from core.data.images import read_mask


def refused_evaluate(model: Path, category: Path, tmp_path: Path, *fragments: object) -> None:
    report = tmp_path / "report.json"
    error_line(run_cli("evaluate", "--model", model, "--data", category, "--json", report), *fragments)
    assert not report.exists()


def mask_of(category: Path, index: int = 0) -> Path:
    return category / "ground_truth" / "spot" / f"{index:03d}_mask.png"


def test_missing_mask(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    mask_of(category).unlink()
    refused_evaluate(tiny_model, category, tmp_path, category / "test" / "spot" / "000.png", "has no mask",
                     f"expected {mask_of(category)}")


def test_missing_ground_truth_folder(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    shutil.rmtree(category / "ground_truth")
    refused_evaluate(tiny_model, category, tmp_path, category / "test" / "spot" / "000.png", "has no mask")


@pytest.mark.parametrize("width, height", [(16, 16), (32, 31), (64, 32)])
def test_mask_of_the_wrong_size(tiny_model: Path, category: Path, tmp_path: Path, width: int, height: int) -> None:
    Image.fromarray(np.full((height, width), 255, np.uint8)).save(mask_of(category, 1))
    refused_evaluate(tiny_model, category, tmp_path, mask_of(category, 1),
                     f"mask is {width}x{height} pixels but its image is 32x32")


def test_a_photo_chosen_as_the_mask_is_not_binary(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    shutil.copyfile(category / "test" / "spot" / "001.png", mask_of(category, 1))
    refused_evaluate(tiny_model, category, tmp_path, mask_of(category, 1), "not a binary mask", "grey")


def test_a_soft_heat_map_is_not_binary(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1))
    Image.fromarray(ramp).save(mask_of(category))
    refused_evaluate(tiny_model, category, tmp_path, mask_of(category), "not a binary mask")


@pytest.mark.parametrize("content, reason", [(b"", "file is empty"), (b"defect at 3,4", "not an image file")])
def test_unreadable_mask(tiny_model: Path, category: Path, tmp_path: Path, content: bytes, reason: str) -> None:
    mask_of(category).write_bytes(content)
    refused_evaluate(tiny_model, category, tmp_path, mask_of(category), reason)


def test_train_refuses_a_bad_mask_before_training(category: Path, existing_model: Path) -> None:
    """The mask check is part of discovery, so a long training never starts on a data set that cannot be scored."""
    mask_of(category).unlink()
    before = snapshot(existing_model)
    result = run_cli("train", "--data", category, "--method", "patchcore", "--image-size", 32, "--weights", "random",
                     "--out", existing_model)
    error_line(result, "has no mask")
    assert snapshot(existing_model) == before


def test_anti_aliased_and_jpeg_masks_stay_accepted(tmp_path: Path) -> None:
    """The binary rule must not refuse real masks: grey edge pixels and JPEG ringing are a small share."""
    mask = np.zeros((64, 64), np.uint8)
    mask[20:40, 10:50] = 255
    mask[19, 10:50] = mask[40, 10:50] = 128  # an anti-aliased edge
    Image.fromarray(mask).save(tmp_path / "edge.png")
    Image.fromarray(mask).save(tmp_path / "ringing.jpg", quality=75)
    for name in ("edge.png", "ringing.jpg"):
        assert read_mask(tmp_path / name)[25:35, 15:45].all()
        assert not read_mask(tmp_path / name)[:15].any()
