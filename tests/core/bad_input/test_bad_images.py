"""Image files given to `predict`, `evaluate` and `train`: broken ones refused naming the file (nothing written),
unusual but valid ones (16-bit, CMYK, EXIF-rotated, palette with transparency) read with the right pixels."""

from __future__ import annotations

import csv
import io
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from bad_input_testkit import error_line, run_cli
from PIL import Image

from core.data.images import MIN_IMAGE_SIDE, read_image


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def noise(height: int = 32, width: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A 100-byte PNG whose header claims `width` x `height` pixels: what a decompression bomb looks like to a
    reader before it inflates the data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def truncated(path: Path, pixels: np.ndarray, image_format: str) -> Path:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=image_format)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3])
    return path


def refused_predict(model: Path, inputs: list[Path], out: Path, *fragments: object) -> None:
    result = run_cli("predict", "--model", model, *inputs, "--out", out)
    error_line(result, *fragments)
    assert not out.exists()  # not even an empty folder: nothing was scored


def empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def text(path: Path) -> Path:
    path.write_text("batch 7, line 3: all parts OK\n")
    return path


BROKEN = {
    "zero-bytes": (empty, "file is empty (0 bytes)"),
    "text-named-png": (text, "not an image file"),
    "truncated-png": (lambda path: truncated(path, noise(64, 64), "PNG"), "truncated or corrupt image"),
    "truncated-jpeg": (lambda path: truncated(path.with_suffix(".jpg"), noise(64, 64), "JPEG"),
                       "truncated or corrupt image"),
    "bomb-900-megapixels": (lambda path: png_header_only(path, 30_000, 30_000), "too large to read safely"),
    "bomb-100-megapixels": (lambda path: png_header_only(path, 10_000, 10_000), "too large to read safely"),
}


@pytest.mark.parametrize("kind", BROKEN)
def test_broken_image_is_refused_by_predict(tiny_model: Path, tmp_path: Path, kind: str) -> None:
    make, reason = BROKEN[kind]
    image = make(tmp_path / "part.png")
    refused_predict(tiny_model, [image], tmp_path / "out", image, reason)


@pytest.mark.parametrize("width, height", [(1, 1), (1, 300), (300, 2), (MIN_IMAGE_SIDE - 1, MIN_IMAGE_SIDE - 1)])
def test_degenerate_sizes_are_refused(tiny_model: Path, tmp_path: Path, width: int, height: int) -> None:
    image = write_png(tmp_path / "sliver.png", noise(height, width))
    refused_predict(tiny_model, [image], tmp_path / "out", image, f"image is {width}x{height} pixels",
                    f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}")


def test_missing_image(tiny_model: Path, tmp_path: Path) -> None:
    refused_predict(tiny_model, [tmp_path / "gone.png"], tmp_path / "out", tmp_path / "gone.png", "no such file")


def test_one_bad_file_in_a_folder_stops_before_any_overlay(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "line"
    for index in range(3):
        write_png(folder / f"{index}.png", noise(seed=index))
    empty(folder / "3.png")
    refused_predict(tiny_model, [folder], tmp_path / "out", folder / "3.png", "file is empty")


def test_truncated_test_image_stops_evaluate(tiny_model: Path, category: Path, tmp_path: Path) -> None:
    broken = truncated(category / "test" / "good" / "000.png", noise(32, 32), "PNG")
    report = tmp_path / "report.json"
    error_line(run_cli("evaluate", "--model", tiny_model, "--data", category, "--json", report), broken,
               "truncated or corrupt image")
    assert not report.exists()


def test_unreadable_training_image_is_skipped_and_named(category: Path, tmp_path: Path) -> None:
    """Training does not stop for one bad file among many (the README's promise) but says which and why."""
    empty(category / "train" / "good" / "999.png")
    result = run_cli("train", "--data", category, "--method", "patchcore", "--image-size", 32, "--weights", "random",
                     "--out", tmp_path / "model")
    assert result.code == 0, result.err
    assert f"skipped {category / 'train' / 'good' / '999.png'}: file is empty (0 bytes)" in result.err
    assert "Traceback" not in result.err


# Valid files in unusual formats: each is read with the right pixels, and `predict` scores them all.

def sixteen_bit_gray(folder: Path) -> tuple[Path, np.ndarray]:
    ramp = np.linspace(0, 65535, 32 * 40).round().astype(np.uint16).reshape(32, 40)
    path = folder / "deep.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    return path, np.repeat(np.rint(ramp / 257).astype(np.uint8)[:, :, None], 3, axis=2)


def sixteen_bit_rgb(folder: Path) -> tuple[Path, np.ndarray]:
    rgb = np.zeros((24, 16, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65535, 32896, 0
    path = folder / "deep.tif"
    cv2.imwrite(str(path), rgb[:, :, ::-1])  # OpenCV writes BGR
    return path, np.full((24, 16, 3), (255, 128, 0), np.uint8)


def cmyk(folder: Path, suffix: str) -> tuple[Path, np.ndarray]:
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[:, :16] = (230, 40, 20)
    pixels[:, 16:] = (30, 90, 200)
    path = folder / f"print{suffix[1:]}{suffix}"
    Image.fromarray(pixels).convert("CMYK").save(path, **({"quality": 98} if suffix == ".jpg" else {}))
    assert Image.open(path).mode == "CMYK"
    return path, pixels


EXIF_CASES = {  # orientation: (the colour that ends up top left, the shape as a viewer shows it)
    3: ("blue", (32, 48)),  # rotated 180 degrees: the right half (blue) comes to the left
    6: ("red", (48, 32)),   # rotate 90 degrees clockwise to view: the left half (red) goes to the top
    8: ("blue", (48, 32)),  # rotate 90 degrees anticlockwise to view: the right half (blue) goes to the top
}
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def exif_rotated(folder: Path, orientation: int) -> Path:
    stored = np.zeros((32, 48, 3), np.uint8)  # 48 wide and 32 high as stored: red left half, blue right half
    stored[:, :24], stored[:, 24:] = COLOURS["red"], COLOURS["blue"]
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = folder / f"phone{orientation}.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    return path


def palette_with_transparency(folder: Path) -> tuple[Path, np.ndarray]:
    indices = (np.arange(32 * 32) % 3).astype(np.uint8).reshape(32, 32)
    palette_image = Image.fromarray(indices, mode="P")
    palette_image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    path = folder / "palette.png"
    palette_image.save(path, transparency=bytes([255, 0, 128]))  # green fully transparent, blue half
    assert Image.open(path).info["transparency"]
    colours = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255)], np.uint8)
    return path, colours[indices]  # the colours the camera saw, the alpha dropped


def read_quietly(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow warns about some palettes; the operator must not see it
        return read_image(path)


def test_16_bit_grayscale_is_scaled_over_its_range(tmp_path: Path) -> None:
    path, expected = sixteen_bit_gray(tmp_path)
    np.testing.assert_array_equal(read_quietly(path), expected)


def test_16_bit_rgb_tiff(tmp_path: Path) -> None:
    path, expected = sixteen_bit_rgb(tmp_path)
    np.testing.assert_array_equal(read_quietly(path), expected)


@pytest.mark.parametrize("suffix, tolerance", [(".tif", 0), (".jpg", 6)])
def test_cmyk(tmp_path: Path, suffix: str, tolerance: int) -> None:
    path, expected = cmyk(tmp_path, suffix)
    difference = np.abs(read_quietly(path).astype(int) - expected)
    assert difference[:, [4, 27]].max() <= tolerance  # away from the colour edge, where JPEG rings


@pytest.mark.parametrize("orientation", EXIF_CASES)
def test_exif_rotation_is_applied(tmp_path: Path, orientation: int) -> None:
    top_left, shape = EXIF_CASES[orientation]
    image = read_quietly(exif_rotated(tmp_path, orientation))
    assert image.shape[:2] == shape
    assert np.abs(image[2, 2].astype(int) - COLOURS[top_left]).max() <= 8


def test_palette_with_transparency(tmp_path: Path) -> None:
    path, expected = palette_with_transparency(tmp_path)
    np.testing.assert_array_equal(read_quietly(path), expected)


def test_predict_scores_every_unusual_format(tiny_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    expected_shapes = {sixteen_bit_gray(folder)[0]: (32, 40), sixteen_bit_rgb(folder)[0]: (24, 16),
                       cmyk(folder, ".tif")[0]: (32, 32), cmyk(folder, ".jpg")[0]: (32, 32),
                       palette_with_transparency(folder)[0]: (32, 32)}
    expected_shapes.update({exif_rotated(folder, orientation): shape
                            for orientation, (_, shape) in EXIF_CASES.items()})
    out = tmp_path / "out"
    result = run_cli("predict", "--model", tiny_model, folder, "--out", out)
    assert result.code == 0, result.err
    assert not result.warnings and "Warning" not in result.err, (result.warnings, result.err)
    overlays = {Path(row["image"]): Path(row["overlay"]) for row in csv.DictReader((out / "scores.csv").open())}
    assert set(overlays) == set(expected_shapes)
    assert len(set(overlays.values())) == len(overlays)  # deep.png and deep.tif each keep their overlay
    for path, shape in expected_shapes.items():  # the overlay is the image as a viewer shows it, EXIF applied
        assert np.asarray(Image.open(overlays[path])).shape[:2] == shape, path.name
