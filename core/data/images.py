"""Reading and resizing images and defect masks, whatever format the camera or the data set wrote.

Every image comes out as an H x W x 3 `uint8` RGB array, C-contiguous, so that the models, the metrics and the
live view never have to care whether the file was 16-bit TIFF, palette PNG or grayscale JPEG. Every mask comes out
as an H x W `bool` array. Problems a user can fix (a truncated file, a text file called `.png`, a mask of the wrong
size) raise `ImageReadError`, an `InputError` whose message names the file and the reason.

Example:
    >>> image = read_image(Path("bottle/test/broken_large/000.png"))      # doctest: +SKIP
    >>> mask_path = Path("bottle/ground_truth/broken_large/000_mask.png")   # doctest: +SKIP
    >>> mask = read_mask(mask_path, expected_hw=image.shape[:2])            # doctest: +SKIP
    >>> small = resize_image(image, 256); small_mask = resize_mask(mask, 256)   # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import InputError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
"""Lower-case suffixes of the files taken as images; compare with `path.suffix.lower()`."""

_MASK_THRESHOLD_8BIT = 127  # anti-aliased edges and 253-instead-of-255 masks both land on the right side of this
_MASK_GREY = (64, 191)  # the middle half of the 8-bit range: neither black nor white
# Anti-aliased and JPEG-saved masks have a few grey pixels on their edges (0.5 % at most in magnetic tile's masks);
# a photo or a heat map chosen as a mask by mistake is mostly grey.
_MAX_GREY_SHARE = 0.10
MIN_IMAGE_SIDE = 8
"""Images narrower or lower than this are refused: an icon or a broken export, never a camera frame (the smallest
model input is 32 px, and upscaling a few pixels to it would only make a smooth, meaningless image)."""
_SIXTEEN_BIT_TO_EIGHT = 257.0  # 65535 / 255: maps the full 16-bit range onto the full 8-bit range


class ImageReadError(InputError):
    """An image or mask file that cannot be used; `path` and `reason` are kept apart so callers can list skips."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


def is_image_file(path: Path) -> bool:
    """True for a visible file whose suffix is one of `IMAGE_SUFFIXES` (any case).

    Hidden files are left out because macOS writes `._name.png` resource forks next to real images on shared drives.
    """
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()


def read_image(path: Path) -> np.ndarray:
    """Read an image file as an H x W x 3 `uint8` RGB array.

    Grayscale is repeated to three channels, palette images are expanded, alpha is dropped (camera images have none,
    and compositing would invent a background), 16-bit images are scaled down to 8 bits over their full range
    instead of clipped, and an EXIF orientation is applied so the array looks as the file does in a viewer.
    Raises `ImageReadError` naming the file for empty, truncated, unreadable or non-image files.
    """
    path = Path(path)
    with _open_image(path) as image:
        _check_image_size(path, *image.size)
        return _to_rgb8(image, path)


def read_mask(path: Path, expected_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Read a defect mask as an H x W `bool` array (True = defective pixel).

    Binarised at half range (`> 127` on the 8-bit scale, 16-bit masks scaled first) so grey anti-aliased edges and
    masks painted with 253 instead of 255 come out right; masks stored as label images with values {0, 1} are also
    understood. Coloured masks count any channel. `expected_hw` is the (height, width) of the image the mask belongs
    to; a mask of another size raises `ImageReadError`, because stretching it would mark the wrong pixels.
    """
    path = Path(path)
    with _open_image(path) as image:
        values = _mask_values(image, path)
    if expected_hw is not None and tuple(values.shape) != tuple(expected_hw):
        raise ImageReadError(
            path,
            f"mask is {values.shape[1]}x{values.shape[0]} pixels but its image is "
            f"{expected_hw[1]}x{expected_hw[0]} (width x height); they must match",
        )
    if np.issubdtype(values.dtype, np.integer) and values.size and int(values.max()) == 1:
        return np.ascontiguousarray(values > 0)  # a label image: 0 = good, 1 = defect
    eight_bit = _scale_to_8bit(values)
    grey = (eight_bit >= _MASK_GREY[0]) & (eight_bit <= _MASK_GREY[1])
    grey_share = np.count_nonzero(grey) / max(grey.size, 1)
    if grey_share > _MAX_GREY_SHARE:
        raise ImageReadError(
            path,
            f"not a binary mask: {grey_share:.0%} of its pixels are grey ({_MASK_GREY[0]} to {_MASK_GREY[1]} of "
            "255); a mask is black where the part is good and white where it is defective",
        )
    return np.ascontiguousarray(eight_bit > _MASK_THRESHOLD_8BIT)


def read_image_hw(path: Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels (fast, for discovery checks)."""
    path = Path(path)
    with _open_header(path) as image:
        width, height = _oriented_size(image)
    _check_image_size(path, width, height)
    return height, width


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB `uint8` image to `size` x `size` x 3 with antialiased bilinear filtering.

    The aspect ratio is not kept: every model works on square inputs, and cropping instead could cut a defect off.
    Pillow's bilinear filter widens its support when shrinking, so it averages like an area filter and does not alias.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got shape {image.shape} and dtype {image.dtype}")
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    resized = Image.fromarray(np.ascontiguousarray(image), mode="RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized))


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Resize a `bool` mask to `size` x `size`: a pixel is defective when at least half of the area it covers is.

    Averaging then thresholding (rather than nearest neighbour) keeps the mask aligned with the bilinear-resized image.
    A defect smaller than half a pixel after shrinking keeps its most-covered pixel, so a defective image never ends
    up with an empty mask just because of the resize.
    """
    if mask.ndim != 2:
        raise ValueError(f"expected an H x W mask, got shape {mask.shape}")
    if mask.shape == (size, size):
        return np.ascontiguousarray(mask.astype(bool))
    as_float = Image.fromarray(mask.astype(np.float32), mode="F")
    coverage = np.asarray(as_float.resize((size, size), Image.Resampling.BILINEAR))
    resized = coverage >= 0.5
    if not resized.any() and mask.any():
        resized[np.unravel_index(int(np.argmax(coverage)), coverage.shape)] = True
    return np.ascontiguousarray(resized)


def _check_image_size(path: Path, width: int, height: int) -> None:
    if width < MIN_IMAGE_SIDE or height < MIN_IMAGE_SIDE:
        raise ImageReadError(
            path, f"image is {width}x{height} pixels (width x height); at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} "
                  "is needed")


def _check_not_empty(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(path, "file does not exist") from None
    except OSError as error:
        raise ImageReadError(path, f"cannot access file ({error.strerror or error})") from None
    if not path.is_file():
        raise ImageReadError(path, "is not a file")
    if size == 0:
        raise ImageReadError(path, "file is empty (0 bytes)")


def _open_header(path: Path) -> Image.Image:
    """Open a file lazily (header only), turning every way it can be bad into an `ImageReadError`."""
    _check_not_empty(path)
    try:
        with warnings.catch_warnings():
            # Pillow only warns about absurdly large images; treat that like any other unusable file.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file, or a format that cannot be read") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageReadError(path, f"image is too large to read safely ({error})") from None
    except MemoryError:
        raise
    except Exception as error:  # decoders raise many types (OSError, SyntaxError, struct.error...) for bad files
        raise ImageReadError(path, f"truncated or corrupt image file ({type(error).__name__}: {error})") from None


def _open_image(path: Path) -> Image.Image:
    """Open and fully decode the first frame, applying the EXIF orientation."""
    image = _open_header(path)
    try:
        image.load()
        orientation = _orientation(image)
        if orientation != 1:
            oriented = ImageOps.exif_transpose(image)
            image.close()
            image = oriented
    except MemoryError:
        image.close()
        raise
    except Exception as error:  # same reason as above: corrupt data surfaces as whatever the decoder raises
        image.close()
        raise ImageReadError(path, f"truncated or corrupt image data ({type(error).__name__}: {error})") from None
    return image


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 = as stored); a broken EXIF block counts as 1, since the pixels are what matter."""
    try:
        value = image.getexif().get(0x0112, 1)
    except Exception:
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) as a viewer shows it: EXIF orientations 5 to 8 swap the two."""
    width, height = image.size
    return (height, width) if _orientation(image) in (5, 6, 7, 8) else (width, height)


def _scale_to_8bit(values: np.ndarray) -> np.ndarray:
    """Map integer or float pixel values onto 0..255 `uint8`, scaling (never clipping) 16-bit data.

    8-bit data passes through. Integer data above 255 is taken as 16-bit and divided by 257, so 65535 maps to 255.
    Float data in 0..1 is taken as normalised and multiplied by 255.
    """
    if values.dtype == np.uint8:
        return values
    if values.dtype == bool:
        return values.astype(np.uint8) * 255
    if np.issubdtype(values.dtype, np.floating):
        finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(finite.max()) if finite.size else 0.0
        if peak <= 1.0:
            finite = finite * 255.0
        elif peak > 255.0:
            finite = finite / _SIXTEEN_BIT_TO_EIGHT
        return np.clip(np.rint(finite), 0, 255).astype(np.uint8)
    wide = values.astype(np.int64)
    if values.dtype.itemsize >= 2 and (values.dtype.itemsize == 2 or (wide.size and int(wide.max()) > 255)):
        # uint16 is always 16-bit data, even when dark; 32-bit "I" images are taken as 16-bit once above 255.
        return np.clip(np.rint(np.clip(wide, 0, 65535) / _SIXTEEN_BIT_TO_EIGHT), 0, 255).astype(np.uint8)
    return np.clip(wide, 0, 255).astype(np.uint8)


def _to_rgb8(image: Image.Image, path: Path) -> np.ndarray:
    mode = image.mode
    if mode in ("RGB", "L"):
        array = np.asarray(image)
    elif mode.startswith("I") or mode == "F":
        array = _scale_to_8bit(np.asarray(image))
    elif mode in ("LA", "La"):
        array = np.asarray(image)[:, :, 0]
    elif mode == "1":
        array = np.asarray(image.convert("L"))
    else:
        # Palette, RGBA, CMYK, YCbCr, LAB, HSV: Pillow's own conversion is exact for these 8-bit modes.
        array = _converted_to_rgb(image, path, "image")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ImageReadError(path, f"unsupported image layout (mode {mode!r}, shape {array.shape})")
    return np.ascontiguousarray(array)


def _mask_values(image: Image.Image, path: Path) -> np.ndarray:
    """The mask's pixel values as one 2-D array in their own bit depth (so 16-bit and label masks can be told apart)."""
    mode = image.mode
    if mode == "1":
        return np.asarray(image).astype(bool)
    if mode == "L" or mode.startswith("I") or mode == "F":
        return np.asarray(image)
    if mode in ("LA", "La"):
        return np.asarray(image)[:, :, 0]
    # A palette or colour mask marks defects in any colour (red overlays are common): take the brightest channel.
    return _converted_to_rgb(image, path, "mask").max(axis=2)


def _converted_to_rgb(image: Image.Image, path: Path, what: str) -> np.ndarray:
    """Pillow's conversion to RGB; palettes go through RGBA, the way Pillow wants those with transparency converted
    (directly, it warns on stderr), and the alpha is then dropped like any other."""
    try:
        if image.mode in ("P", "PA"):
            return np.ascontiguousarray(np.asarray(image.convert("RGBA"))[:, :, :3])
        return np.asarray(image.convert("RGB"))
    except (ValueError, OSError) as error:
        raise ImageReadError(path, f"unsupported {what} mode {image.mode!r} ({error})") from None
