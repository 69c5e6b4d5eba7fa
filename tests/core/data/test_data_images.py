"""Reading real image files of every supported kind, and refusing broken ones with a clear message."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.data.images import (
    IMAGE_SUFFIXES,
    ImageReadError,
    read_image,
    read_image_hw,
    read_mask,
    resize_image,
    resize_mask,
)
from core.errors import InputError


def gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    rows, cols = np.mgrid[0:height, 0:width]
    return np.stack([cols * 7 % 256, rows * 9 % 256, (rows + cols) * 5 % 256], axis=2).astype(np.uint8)


def check_rgb8(image: np.ndarray, height: int, width: int) -> None:
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8
    assert image.flags["C_CONTIGUOUS"]


def test_suffixes_cover_the_documented_formats() -> None:
    assert IMAGE_SUFFIXES == {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


@pytest.mark.parametrize("name", ["a.png", "b.bmp", "c.tif", "d.tiff", "E.PNG", "f.TIF"])
def test_lossless_rgb_files_read_back_exactly(tmp_path: Path, name: str) -> None:
    pixels = gradient_rgb()
    path = tmp_path / name
    Image.fromarray(pixels).save(path, format={"png": "PNG", "bmp": "BMP"}.get(path.suffix.lower()[1:], "TIFF"))
    image = read_image(path)
    check_rgb8(image, 24, 32)
    np.testing.assert_array_equal(image, pixels)


@pytest.mark.parametrize("name", ["photo.jpg", "photo.jpeg", "PHOTO.JPG"])
def test_jpeg_in_any_suffix_case(tmp_path: Path, name: str) -> None:
    pixels = np.full((20, 30, 3), (200, 120, 40), np.uint8)
    Image.fromarray(pixels).save(tmp_path / name, format="JPEG", quality=95)
    image = read_image(tmp_path / name)
    check_rgb8(image, 20, 30)
    assert np.abs(image.astype(int) - pixels).max() <= 3


def test_grayscale_is_repeated_to_three_channels(tmp_path: Path) -> None:
    gray = (np.arange(30 * 40) % 256).astype(np.uint8).reshape(30, 40)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    image = read_image(tmp_path / "gray.png")
    check_rgb8(image, 30, 40)
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], gray)


def test_grayscale_jpeg(tmp_path: Path) -> None:
    gray = np.full((17, 23), 90, np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.jpg", quality=95)
    image = read_image(tmp_path / "gray.jpg")
    check_rgb8(image, 17, 23)
    assert abs(int(image.mean()) - 90) <= 2


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path: Path, suffix: str) -> None:
    values = np.array([[0, 1000, 32768, 65535]], dtype=np.uint16).repeat(8, axis=0).repeat(2, axis=1)
    Image.fromarray(values).save(tmp_path / f"deep{suffix}")
    image = read_image(tmp_path / f"deep{suffix}")
    check_rgb8(image, 8, 8)
    # Clipping would turn 1000 and 32768 into 255; scaling keeps them dark and mid-grey.
    np.testing.assert_array_equal(image[0, ::2, 0], [0, 4, 128, 255])


def test_16_bit_rgb_png_and_tiff(tmp_path: Path) -> None:
    rgb = np.zeros((8, 9, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65535, 32896, 1000
    for suffix in (".png", ".tif"):
        cv2.imwrite(str(tmp_path / f"deep{suffix}"), rgb[:, :, ::-1])  # OpenCV writes BGR
        image = read_image(tmp_path / f"deep{suffix}")
        check_rgb8(image, 8, 9)
        assert tuple(image[0, 0]) in {(255, 128, 3), (255, 128, 4)}


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    rgba = np.zeros((8, 9, 4), np.uint8)
    rgba[..., :3] = (10, 150, 250)
    rgba[..., 3] = 0  # fully transparent: the colour is still what the camera saw
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    image = read_image(tmp_path / "alpha.png")
    check_rgb8(image, 8, 9)
    assert tuple(image[4, 4]) == (10, 150, 250)


def test_palette_and_bilevel_images(tmp_path: Path) -> None:
    pixels = gradient_rgb(16, 16)
    Image.fromarray(pixels).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(tmp_path / "palette.png")
    palette_image = read_image(tmp_path / "palette.png")
    check_rgb8(palette_image, 16, 16)
    assert np.abs(palette_image.astype(int) - pixels).mean() < 40  # 16 colours approximate the gradient
    assert len(np.unique(palette_image.reshape(-1, 3), axis=0)) > 1
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "bilevel.png")
    bilevel = read_image(tmp_path / "bilevel.png")
    np.testing.assert_array_equal(bilevel[:, :, 1], np.eye(8, dtype=np.uint8) * 255)


def test_gray_with_alpha_and_cmyk(tmp_path: Path) -> None:
    Image.new("LA", (9, 8), (77, 0)).save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_image(tmp_path / "la.png"), np.full((8, 9, 3), 77, np.uint8))
    Image.new("CMYK", (9, 8), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    assert read_image(tmp_path / "cmyk.jpg").min() >= 250  # no ink is white


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((10, 30, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(pixels).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "phone.jpg").shape == (30, 10, 3)
    assert read_image_hw(tmp_path / "phone.jpg") == (30, 10)


def test_read_image_hw_reads_only_the_header(tmp_path: Path) -> None:
    Image.fromarray(gradient_rgb(21, 13)).save(tmp_path / "x.png")
    assert read_image_hw(tmp_path / "x.png") == (21, 13)


def write_truncated_png(path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda path: path.write_bytes(b""), "empty (0 bytes)"),
        (write_truncated_png, "truncated or corrupt"),
        (lambda path: path.write_text("this is a text file, not a picture\n"), "not an image"),
        (lambda path: None, "does not exist"),
        (lambda path: path.mkdir(), "not a file"),
    ],
    ids=["zero-bytes", "truncated", "text", "missing", "folder"],
)
def test_bad_files_raise_input_error_naming_file_and_reason(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.png"
    make(path)
    with pytest.raises(InputError) as caught:
        read_image(path)
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ImageReadError)
    assert caught.value.path == path and reason in caught.value.reason


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (80, 80, 3), dtype=np.uint8)).save(buffer, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buffer.getvalue()[:600])
    with pytest.raises(ImageReadError, match="cut.jpg: truncated or corrupt"):
        read_image(tmp_path / "cut.jpg")


def test_mask_with_grey_anti_aliased_edges_and_253(tmp_path: Path) -> None:
    values = np.zeros((10, 6), np.uint8)  # mostly black, as masks are: a few grey edge pixels are no problem
    values[0] = [0, 60, 127, 128, 200, 253]
    Image.fromarray(values).save(tmp_path / "m_mask.png")
    mask = read_mask(tmp_path / "m_mask.png")
    assert mask.dtype == bool and mask.shape == (10, 6)
    np.testing.assert_array_equal(mask[0], [False, False, False, True, True, True])


def test_16_bit_mask_is_scaled_before_thresholding(tmp_path: Path) -> None:
    values = np.zeros((10, 5), np.uint16)
    values[0] = [0, 255, 30000, 40000, 65535]
    Image.fromarray(values).save(tmp_path / "deep_mask.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "deep_mask.png")[0], [False, False, False, True, True])


def test_label_mask_colour_mask_and_palette_mask(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 1, 0]], dtype=np.uint8)
    Image.fromarray(labels).save(tmp_path / "labels.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "labels.png")[0], [False, True, True, False])
    red = np.zeros((1, 3, 3), np.uint8)
    red[0, 1] = (255, 0, 0)
    Image.fromarray(red).save(tmp_path / "red.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "red.png")[0], [False, True, False])
    palette = Image.fromarray(np.array([[0, 1, 0]], dtype=np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(read_mask(tmp_path / "palette.png")[0], [False, True, False])


def test_mask_of_wrong_size_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((10, 20), np.uint8)).save(tmp_path / "small_mask.png")
    assert read_mask(tmp_path / "small_mask.png", expected_hw=(10, 20)).shape == (10, 20)
    with pytest.raises(InputError) as caught:
        read_mask(tmp_path / "small_mask.png", expected_hw=(12, 20))
    message = str(caught.value)
    assert str(tmp_path / "small_mask.png") in message and "20x10" in message and "20x12" in message


def test_broken_mask_names_the_mask(tmp_path: Path) -> None:
    (tmp_path / "x_mask.png").write_bytes(b"")
    with pytest.raises(InputError, match="x_mask.png: file is empty"):
        read_mask(tmp_path / "x_mask.png")


def test_resize_image_shape_and_antialiasing() -> None:
    checkerboard = ((np.indices((256, 256)).sum(axis=0) % 2) * 255).astype(np.uint8)
    image = np.repeat(checkerboard[:, :, None], 3, axis=2)
    small = resize_image(image, 64)
    check_rgb8(small, 64, 64)
    # Nearest-neighbour sampling would return pure black or white; an antialiased filter returns mid-grey.
    assert abs(float(small.mean()) - 127.5) < 2 and float(small.std()) < 10
    rect = resize_image(gradient_rgb(30, 50), 40)
    check_rgb8(rect, 40, 40)
    same = gradient_rgb(16, 16)
    np.testing.assert_array_equal(resize_image(same, 16), same)


def test_resize_image_rejects_wrong_arrays() -> None:
    with pytest.raises(ValueError):
        resize_image(np.zeros((4, 4), np.uint8), 8)
    with pytest.raises(ValueError):
        resize_image(np.zeros((4, 4, 3), np.float32), 8)


def test_resize_mask_keeps_covered_half_and_tiny_defects() -> None:
    mask = np.zeros((100, 100), bool)
    mask[:, :50] = True
    small = resize_mask(mask, 10)
    assert small.dtype == bool and small.shape == (10, 10) and small.flags["C_CONTIGUOUS"]
    assert small[:, :5].all() and not small[:, 5:].any()
    speck = np.zeros((400, 400), bool)
    speck[201, 300] = True  # one pixel shrinks to 1/64 of a pixel: still marked, not lost
    tiny = resize_mask(speck, 50)
    assert tiny.sum() == 1 and tiny[25, 37]
    assert not resize_mask(np.zeros((30, 30), bool), 10).any()
