"""The data layer on real data sets from shared/ (MVTec AD bottle, magnetic tile); skipped where they are absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.dataset import discover_categories, load_normal_images, load_test_set, split_holdout
from core.data.images import read_image, read_mask

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
BOTTLE = SHARED_DATA / "mvtec_ad" / "bottle"
TILE = SHARED_DATA / "magnetic_tile" / "magnetic_tile"

pytestmark = pytest.mark.skipif(
    not (BOTTLE.is_dir() and TILE.is_dir()),
    reason=f"real data sets not found in {SHARED_DATA} (they live beside the repository, in shared/data)",
)


def test_both_real_categories_are_discovered_together() -> None:
    bottle, tile = discover_categories([BOTTLE, TILE])
    assert (bottle.name, bottle.layout) == ("bottle", "mvtec")
    assert len(bottle.train) == 53 and len(bottle.test) == 83
    assert sum(sample.label for sample in bottle.test) == 63
    assert bottle.defects == ("broken_large", "broken_small", "contamination")
    assert bottle.warnings == ()
    assert (tile.name, tile.layout) == ("magnetic_tile", "mvtec")
    assert len(tile.train) == 300 and len(tile.test) == 452
    assert all(path.suffix == ".jpg" for path in tile.train)
    assert tile.defects == ("blowhole", "break", "crack", "fray", "uneven")


def test_magnetic_tile_empty_masks_are_kept_and_reported() -> None:
    [tile] = discover_categories([TILE])
    empty = sorted(sample.path.stem for sample in tile.test if sample.mask_empty)
    assert empty == ["exp3_num_45042", "exp4_num_124690", "exp4_num_352527", "exp4_num_45057"]
    assert all(sample.label == 1 and sample.defect == "uneven" for sample in tile.test if sample.mask_empty)
    [warning] = tile.warnings
    assert "4 defective test image(s) have an empty mask" in warning and "exp4_num_45057" in warning


def test_magnetic_tile_grey_edges_binarise_at_half() -> None:
    [tile] = discover_categories([TILE])
    checked = 0
    for sample in tile.test:
        if sample.mask_path is None:
            continue
        raw = np.asarray(Image.open(sample.mask_path).convert("L"))
        if not ((raw > 0) & (raw < 255)).any():
            continue
        np.testing.assert_array_equal(read_mask(sample.mask_path), raw > 127)
        checked += 1
        if checked == 5:
            break
    assert checked == 5  # SOURCE.md: about 16 % of the mask pixels are grey edges


def test_real_images_come_out_as_rgb8() -> None:
    bottle_image = read_image(BOTTLE / "test" / "broken_large" / "000.png")
    assert bottle_image.shape == (900, 900, 3) and bottle_image.dtype == np.uint8
    [tile] = discover_categories([TILE])
    shapes = {read_image(path).shape for path in tile.train[:20]}
    assert len(shapes) > 1 and all(shape[2] == 3 for shape in shapes)  # grayscale JPEGs of varying sizes


def test_magnetic_tile_loads_for_training_and_testing() -> None:
    [tile] = discover_categories([TILE])
    fit, holdout = split_holdout(tile.train, fraction=0.1, seed=0)
    assert len(holdout) == 30 and len(fit) == 270
    loaded = load_normal_images(holdout, image_size=64)
    assert loaded.images.shape == (30, 64, 64, 3) and loaded.skipped == ()
    images, labels, masks = load_test_set(tile, image_size=64)
    assert images.shape == (452, 64, 64, 3) and labels.sum() == 392
    assert not masks[labels == 0].any()
    defect_area = masks[labels == 1].sum(axis=(1, 2))
    assert (defect_area == 0).sum() == 4  # only the four empty masks are empty, even at 64 x 64
