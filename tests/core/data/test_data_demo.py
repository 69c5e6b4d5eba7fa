"""The bundled demo data set: layout, masks that match the painted defects, determinism, caching."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import skimage
from PIL import Image

from core.data import demo
from core.data.dataset import discover_categories, load_test_set
from core.data.demo import DEMO_VERSION, ensure_demo_dataset
from core.errors import InputError


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cache") / "demo"
    started = time.perf_counter()
    ensure_demo_dataset(root)
    seconds = time.perf_counter() - started
    assert seconds < 30, f"demo generation took {seconds:.1f} s"  # ~4 s on 2 idle cores; generous for busy CI
    return root


def test_sources_ship_inside_scikit_image() -> None:
    # These are files in the installed wheel, so generation never downloads anything.
    data_folder = Path(skimage.__file__).parent / "data"
    for name in ("brick.png", "gravel.png", "grass.png", "coffee.png"):
        assert (data_folder / name).is_file(), name


def test_layout_counts_and_formats(demo_root: Path) -> None:
    folders = ensure_demo_dataset(demo_root)
    assert [folder.name for folder in folders] == ["brick", "gravel", "cup"]
    assert [folder.parent for folder in folders] == [demo_root] * 3
    categories = discover_categories(folders)
    for category in categories:
        assert category.layout == "mvtec" and category.warnings == ()
        assert len(category.train) == demo.TRAIN_COUNT == 40
        labels = [sample.label for sample in category.test]
        assert labels.count(0) == demo.TEST_GOOD_COUNT == 8 and labels.count(1) == 16
        assert len(category.defects) == 3
        with Image.open(category.train[0]) as image:
            assert (image.size, image.mode, image.format) == ((256, 256), "RGB", "PNG")
        with Image.open(next(sample.mask_path for sample in category.test if sample.mask_path)) as mask:
            assert (mask.size, mask.mode) == ((256, 256), "L")
    assert {category.name: category.defects for category in categories} == {
        "brick": ("crack", "hole", "stain"),
        "gravel": ("debris", "oil", "plastic"),
        "cup": ("chip", "crack", "scratch"),
    }
    assert (demo_root / "README.md").is_file()
    assert not [path for path in demo_root.parent.iterdir() if path.name.endswith(".tmp")]


def test_masks_mark_visible_defects(demo_root: Path) -> None:
    for category in discover_categories(ensure_demo_dataset(demo_root)):
        images, labels, masks = load_test_set(category, image_size=256)
        for sample, image, mask in zip(category.test, images, masks):
            raw = np.asarray(Image.open(sample.mask_path)) if sample.mask_path else np.zeros((256, 256), np.uint8)
            assert set(np.unique(raw)) <= {0, 255}, sample.path
            area = int(mask.sum())
            if not sample.label:
                assert area == 0
                continue
            assert 20 <= area <= 0.06 * mask.size, (sample.path, area)
            # The painted pixels differ from their surroundings: compare the defect with a ring around it.
            ring = _dilate(mask, 6) & ~_dilate(mask, 2)
            inside, around = image[mask].astype(float), image[ring].astype(float)
            difference = np.abs(inside.mean(axis=0) - around.mean(axis=0)).max()
            assert difference > 12, (sample.path, difference)


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    grown = mask.copy()
    for _ in range(steps):
        grown[1:] |= grown[:-1].copy()
        grown[:-1] |= grown[1:].copy()
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
    return grown


def test_normal_images_vary(demo_root: Path) -> None:
    for name in ("brick", "gravel", "cup"):
        first = np.asarray(Image.open(demo_root / name / "train" / "good" / "000.png")).astype(float)
        second = np.asarray(Image.open(demo_root / name / "train" / "good" / "001.png")).astype(float)
        assert np.abs(first - second).mean() > 5, name


def test_generation_is_deterministic(demo_root: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    again.mkdir()  # an empty folder made beforehand is accepted
    ensure_demo_dataset(again)
    first = sorted(path.relative_to(demo_root) for path in demo_root.rglob("*") if path.is_file())
    second = sorted(path.relative_to(again) for path in again.rglob("*") if path.is_file())
    assert first == second and len(first) > 200
    for relative in first:
        assert (demo_root / relative).read_bytes() == (again / relative).read_bytes(), relative


def test_second_call_returns_at_once_without_rewriting(demo_root: Path) -> None:
    marker = demo_root / "brick" / "train" / "good" / "000.png"
    before = marker.stat().st_mtime_ns
    started = time.perf_counter()
    folders = ensure_demo_dataset(demo_root)
    assert time.perf_counter() - started < 0.5
    assert marker.stat().st_mtime_ns == before and folders[0] == demo_root / "brick"


def test_default_root_honours_xdg_cache_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.default_demo_root() == tmp_path / "xdg" / "inspection-station" / f"demo-v{DEMO_VERSION}"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert demo.default_demo_root() == tmp_path / "home" / ".cache" / "inspection-station" / f"demo-v{DEMO_VERSION}"


def test_a_foreign_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(InputError, match="not a complete demo data set"):
        ensure_demo_dataset(tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
