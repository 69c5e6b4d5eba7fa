"""Finding categories on disk, splitting off the holdout, loading with skip-and-report, fingerprints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.dataset import (
    Category,
    discover_categories,
    discover_category,
    fingerprint,
    iter_load_normal_images,
    load_normal_images,
    load_test_set,
    split_holdout,
)
from core.errors import Cancelled, InputError
from core.jobs import CancelToken, Progress

REPO = Path(__file__).resolve().parents[3]


def write_image(path: Path, size: tuple[int, int] = (40, 30), value: int = 120) -> Path:
    """A real RGB image of `size` (width, height), with a little structure so it is not blank."""
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    pixels = np.full((height, width, 3), value, np.uint8)
    pixels[::4, :, 1] = 200
    Image.fromarray(pixels).save(path)
    return path


def write_mask(path: Path, size: tuple[int, int] = (40, 30), box: tuple[int, int, int, int] = (5, 5, 15, 12)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    mask = np.zeros((height, width), np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    Image.fromarray(mask).save(path)
    return path


def make_mvtec(root: Path, train: int = 6, good: int = 2, defects: tuple[str, ...] = ("crack", "spot")) -> Path:
    for index in range(train):
        write_image(root / "train" / "good" / f"{index:03d}.png", value=100 + index)
    for index in range(good):
        write_image(root / "test" / "good" / f"{index:03d}.png")
    for defect in defects:
        for index in range(2):
            write_image(root / "test" / defect / f"{index:03d}.png", value=60)
            write_mask(root / "ground_truth" / defect / f"{index:03d}_mask.png")
    return root


def test_mvtec_layout_is_discovered(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    category = discover_category(root)
    assert isinstance(category, Category)
    assert (category.name, category.layout, category.root) == ("widget", "mvtec", root)
    assert category.train == tuple(root / "train" / "good" / f"{index:03d}.png" for index in range(6))
    assert [(sample.defect, sample.label, sample.path.name) for sample in category.test] == [
        ("crack", 1, "000.png"),
        ("crack", 1, "001.png"),
        ("good", 0, "000.png"),
        ("good", 0, "001.png"),
        ("spot", 1, "000.png"),
        ("spot", 1, "001.png"),
    ]
    for sample in category.test:
        if sample.label:
            assert sample.mask_path == root / "ground_truth" / sample.defect / f"{sample.path.stem}_mask.png"
            assert not sample.mask_empty
        else:
            assert sample.mask_path is None
    assert category.defects == ("crack", "spot")
    assert category.warnings == ()


def test_mvtec_accepts_jpg_images_and_mask_named_like_the_image(tmp_path: Path) -> None:
    root = tmp_path / "tile"
    for index in range(3):
        Image.new("L", (33, 21), 90).save(_mkdir(root / "train" / "good") / f"{index}.JPG")
    Image.new("L", (33, 21), 40).save(_mkdir(root / "test" / "blowhole") / "a.jpg")
    write_mask(root / "ground_truth" / "blowhole" / "a.png", size=(33, 21))
    category = discover_category(root)
    assert len(category.train) == 3
    assert category.test[0].mask_path == root / "ground_truth" / "blowhole" / "a.png"
    assert any("no good test images" in warning for warning in category.warnings)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_plain_folder_is_searched_recursively(tmp_path: Path) -> None:
    root = tmp_path / "parts"
    write_image(root / "b.png")
    write_image(root / "day1" / "a.BMP")
    Image.new("RGB", (8, 8)).save(_mkdir(root / "day2" / "deeper") / "c.TIFF")
    Image.new("RGB", (8, 8)).save(root / "d.jpeg")
    (root / "notes.txt").write_text("not an image")
    write_image(root / "._b.png")  # macOS resource fork next to the real file
    write_image(root / ".thumbnails" / "x.png")
    category = discover_category(root)
    assert category.layout == "folder" and category.name == "parts" and category.test == ()
    assert [path.relative_to(root).as_posix() for path in category.train] == [
        "b.png",
        "d.jpeg",
        "day1/a.BMP",
        "day2/deeper/c.TIFF",
    ]


def test_empty_missing_and_non_folders_are_refused(tmp_path: Path) -> None:
    empty = _mkdir(tmp_path / "empty")
    (empty / "readme.txt").write_text("no pictures here")
    with pytest.raises(InputError, match=f"{empty}: no images found"):
        discover_category(empty)
    with pytest.raises(InputError, match="does not exist"):
        discover_category(tmp_path / "nowhere")
    image = write_image(tmp_path / "x.png")
    with pytest.raises(InputError, match="is not a folder"):
        discover_category(image)
    _mkdir(tmp_path / "half" / "train" / "good")
    with pytest.raises(InputError, match=f"{tmp_path / 'half' / 'train' / 'good'}: no images found"):
        discover_category(tmp_path / "half")


def test_mvtec_like_folder_without_train_good_is_refused(tmp_path: Path) -> None:
    # Taking it as a plain folder would train on the defect images.
    write_image(tmp_path / "odd" / "test" / "crack" / "000.png")
    with pytest.raises(InputError, match="no 'train/good' folder"):
        discover_category(tmp_path / "odd")


def test_defect_image_without_mask_is_refused(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    (root / "ground_truth" / "spot" / "001_mask.png").unlink()
    with pytest.raises(InputError) as caught:
        discover_category(root)
    message = str(caught.value)
    assert str(root / "test" / "spot" / "001.png") in message
    assert "no mask" in message and "001_mask.png" in message


def test_mask_of_wrong_size_is_refused_at_discovery(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    write_mask(root / "ground_truth" / "crack" / "000_mask.png", size=(41, 30))
    with pytest.raises(InputError, match="000_mask.png: mask is 41x30 pixels but its image is 40x30"):
        discover_category(root)


def test_empty_mask_is_kept_with_a_warning(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    write_mask(root / "ground_truth" / "spot" / "001_mask.png", box=(0, 0, 0, 0))
    category = discover_category(root)
    empty = [sample for sample in category.test if sample.mask_empty]
    assert [(sample.defect, sample.path.name, sample.label) for sample in empty] == [("spot", "001.png", 1)]
    assert len(category.warnings) == 1
    assert "1 defective test image(s) have an empty mask" in category.warnings[0]
    assert "test/spot/001.png" in category.warnings[0]


def test_grey_edged_mask_is_binarised(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget", defects=("spot",))
    write_image(root / "test" / "spot" / "000.png", size=(40, 40))  # square, so loading does not stretch the mask
    mask = np.zeros((40, 40), np.uint8)
    mask[10:20, 10:20] = 253
    mask[9, 10:20] = 90  # anti-aliased edge, below half
    mask[20, 10:20] = 160  # anti-aliased edge, above half
    Image.fromarray(mask).save(root / "ground_truth" / "spot" / "000_mask.png")
    category = discover_category(root)
    _, labels, masks = load_test_set(category, image_size=40)
    first_spot = [index for index, sample in enumerate(category.test) if sample.defect == "spot"][0]
    assert labels[first_spot] == 1
    assert masks[first_spot].sum() == 110  # rows 10..20 of ten columns
    assert not masks[first_spot][9].any()


def test_several_categories_need_distinct_names(tmp_path: Path) -> None:
    first = make_mvtec(tmp_path / "a" / "widget")
    second = make_mvtec(tmp_path / "b" / "widget")
    other = make_mvtec(tmp_path / "b" / "gadget")
    assert [category.name for category in discover_categories([first, other])] == ["widget", "gadget"]
    with pytest.raises(InputError, match="category name 'widget' is also the name of"):
        discover_categories([first, other, second])
    with pytest.raises(InputError, match="no category folder"):
        discover_categories([])


def test_holdout_split_is_deterministic_and_order_free(tmp_path: Path) -> None:
    paths = [tmp_path / f"{index:03d}.png" for index in range(50)]
    fit, holdout = split_holdout(paths, fraction=0.1, seed=3)
    assert len(holdout) == 5 and len(fit) == 45
    assert sorted(fit + holdout) == sorted(paths) and not set(fit) & set(holdout)
    assert split_holdout(list(reversed(paths)), fraction=0.1, seed=3) == (fit, holdout)
    assert split_holdout(paths, fraction=0.1, seed=3) == (fit, holdout)
    assert split_holdout(paths, fraction=0.1, seed=4)[1] != holdout
    assert fit == sorted(fit) and holdout == sorted(holdout)


@pytest.mark.parametrize(("count", "fraction", "held"), [(4, 0.1, 0), (5, 0.1, 1), (9, 0.1, 1), (100, 0.1, 10),
                                                         (100, 0.25, 25), (20, 0.0, 0), (1, 0.5, 0), (2, 0.9, 1)])
def test_holdout_sizes(count: int, fraction: float, held: int) -> None:
    paths = [Path(f"/data/{index}.png") for index in range(count)]
    fit, holdout = split_holdout(paths, fraction=fraction)
    assert len(holdout) == held and len(fit) == count - held


def test_holdout_fraction_must_be_sensible() -> None:
    with pytest.raises(InputError, match="holdout fraction"):
        split_holdout([Path("a.png")], fraction=1.0)
    with pytest.raises(InputError, match="holdout fraction"):
        split_holdout([Path("a.png")], fraction=-0.1)


def bad_files(folder: Path) -> dict[str, Path]:
    zero = folder / "zero.png"
    zero.write_bytes(b"")
    text = folder / "text.png"
    text.write_text("hello")
    good = write_image(folder / "tmp_for_truncation.png", size=(64, 64))
    data = good.read_bytes()
    truncated = folder / "truncated.png"
    truncated.write_bytes(data[: len(data) // 2])
    good.unlink()
    return {"empty (0 bytes)": zero, "not an image": text, "truncated": truncated}


def test_loading_skips_unreadable_images_and_reports_them(tmp_path: Path) -> None:
    good = [write_image(tmp_path / f"good{index}.png", size=(50 + index, 40), value=10 * index) for index in range(5)]
    bad = bad_files(tmp_path)
    paths = good[:2] + list(bad.values()) + good[2:]
    loaded = load_normal_images(paths, image_size=32)
    assert loaded.images.shape == (5, 32, 32, 3) and loaded.images.dtype == np.uint8
    assert loaded.images.flags["C_CONTIGUOUS"]
    assert loaded.paths == tuple(good)
    # Order is kept: image i comes from good[i] (each was filled with a different value in its red channel).
    assert [int(image[1, 0, 0]) for image in loaded.images] == [0, 10, 20, 30, 40]
    assert [path for path, _ in loaded.skipped] == list(bad.values())
    for (path, reason), expected in zip(loaded.skipped, bad):
        assert expected in reason and str(path) not in reason


def test_loading_refuses_when_too_few_images_remain(tmp_path: Path) -> None:
    good = [write_image(tmp_path / f"good{index}.png") for index in range(3)]
    bad = bad_files(tmp_path)
    with pytest.raises(InputError) as caught:
        load_normal_images(good + list(bad.values()), image_size=16, min_images=4)
    message = str(caught.value)
    assert "only 3 of 6 normal images could be read" in message and "at least 4" in message
    assert str(bad["not an image"]) in message and "truncated" in message
    assert load_normal_images(good, image_size=16, min_images=3).images.shape[0] == 3
    with pytest.raises(InputError, match="no normal images"):
        load_normal_images([], image_size=16)


def test_loading_reports_progress_and_can_be_cancelled(tmp_path: Path) -> None:
    paths = [write_image(tmp_path / f"{index}.png") for index in range(6)]
    job = iter_load_normal_images(paths, image_size=16, min_images=1)
    records = []
    while True:
        try:
            records.append(next(job))
        except StopIteration as stop:
            result = stop.value
            break
    assert all(isinstance(record, Progress) for record in records)
    assert [record.step for record in records] == [1, 2, 3, 4, 5, 6] and records[-1].total == 6
    assert result.images.shape == (6, 16, 16, 3)
    token = CancelToken()
    job = iter_load_normal_images(paths, image_size=16, min_images=1, cancel=token)
    next(job)
    token.cancel()
    with pytest.raises(Cancelled):
        next(job)


def test_test_set_shapes_labels_and_masks(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    category = discover_category(root)
    images, labels, masks = load_test_set(category, image_size=20)
    assert images.shape == (6, 20, 20, 3) and images.dtype == np.uint8
    assert masks.shape == (6, 20, 20) and masks.dtype == bool
    assert labels.tolist() == [sample.label for sample in category.test] == [1, 1, 0, 0, 1, 1]
    for mask, label in zip(masks, labels):
        # The 10 x 7 box of a 40 x 30 mask covers (10 * 20/40) x (7 * 20/30) = 5 x 4.7 pixels at size 20.
        assert (mask.sum() > 15) if label else not mask.any()


def test_test_set_refuses_a_broken_test_image(tmp_path: Path) -> None:
    root = make_mvtec(tmp_path / "widget")
    category = discover_category(root)
    (root / "test" / "good" / "001.png").write_bytes(b"")
    with pytest.raises(InputError, match="001.png: file is empty"):
        load_test_set(category, image_size=16)


def test_fingerprint_changes_with_the_files_not_their_order(tmp_path: Path) -> None:
    paths = [write_image(tmp_path / "set" / f"{index}.png") for index in range(4)]
    first = fingerprint(paths)
    assert len(first) == 64 and first == fingerprint(list(reversed(paths)))
    moved = tmp_path / "moved"
    (tmp_path / "set").rename(moved)
    moved_paths = [moved / path.name for path in paths]
    for original, path in zip(paths, moved_paths):
        assert path.exists()
    assert fingerprint(moved_paths) == first  # names are relative to the common folder
    stat = moved_paths[0].stat()
    os.utime(moved_paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    touched = fingerprint(moved_paths)
    assert touched != first
    assert fingerprint(moved_paths[:3]) != touched
    moved_paths[3].rename(moved / "renamed.png")
    assert fingerprint(moved_paths[:3] + [moved / "renamed.png"]) != touched
    with pytest.raises(InputError, match="3.png: cannot read file information"):
        fingerprint(moved_paths)


def test_core_data_imports_without_qt() -> None:
    code = (
        "import sys\n"
        "for name in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'superqt'):\n"
        "    sys.modules[name] = None  # any import of them now fails\n"
        "import core.data, core.data.demo, core.data.dataset, core.data.images\n"
        "assert 'skimage' not in sys.modules, 'the demo should import scikit-image only when it generates'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


def test_a_folder_of_mvtec_categories_is_not_taken_as_normal_images(tmp_path: Path) -> None:
    make_mvtec(tmp_path / "mvtec" / "widget")
    make_mvtec(tmp_path / "mvtec" / "gadget")
    with pytest.raises(InputError, match="holds whole categories in MVTec AD layout \\(gadget, widget\\)"):
        discover_category(tmp_path / "mvtec")


def test_train_good_itself_can_be_chosen_as_a_plain_folder(tmp_path: Path) -> None:
    make_mvtec(tmp_path / "widget")
    category = discover_category(tmp_path / "widget" / "train" / "good")
    assert (category.name, category.layout, len(category.train)) == ("good", "folder", 6)
