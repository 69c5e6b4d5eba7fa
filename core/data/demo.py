"""The bundled demo data set: three small categories in MVTec AD layout, made on the fly from public-domain images.

The app must run its first training without anything from outside the repository, and real data sets have
non-commercial licences, so the demo is generated deterministically from scikit-image's bundled sample images
(`brick`, `gravel`, `grass` and `coffee`, all CC0, shipped inside the scikit-image wheel, no download). Normal
images vary as on a real line (position, scale, small rotation, exposure, illumination gradient, sensor noise);
defects are painted with anti-aliased shapes and their ground-truth masks mark exactly the pixels where the paint
covers at least half of the pixel.

| category | kind    | defects                      |
|----------|---------|------------------------------|
| brick    | texture | crack, stain, hole           |
| gravel   | texture | debris, plastic, oil         |
| cup      | object  | crack, scratch, chip         |

Example:
    >>> folders = ensure_demo_dataset()          # doctest: +SKIP
    >>> [folder.name for folder in folders]      # doctest: +SKIP
    ['brick', 'gravel', 'cup']
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import InputError

DEMO_VERSION = 1
"""Bump when the generated images change, so that caches of an older demo are not mistaken for this one."""

DEMO_SIZE = 256
TRAIN_COUNT = 40
TEST_GOOD_COUNT = 8
_SEED = 7_242_011
_MARKER = "demo.json"
_WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class _Spec:
    name: str
    defects: tuple[tuple[str, int], ...]  # (defect kind, number of test images)


_SPECS = (
    _Spec("brick", (("crack", 6), ("stain", 5), ("hole", 5))),
    _Spec("gravel", (("debris", 6), ("plastic", 5), ("oil", 5))),
    _Spec("cup", (("crack", 5), ("scratch", 6), ("chip", 5))),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(spec.name for spec in _SPECS)


def default_demo_root() -> Path:
    """`$XDG_CACHE_HOME/inspection-station/demo-v<DEMO_VERSION>`, with `~/.cache` when the variable is unset."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "inspection-station" / f"demo-v{DEMO_VERSION}"


def ensure_demo_dataset(root: Path | None = None) -> list[Path]:
    """Make the demo data set in `root` unless it is already there; return its category folders.

    Written to a temporary folder beside `root` and renamed into place, so an interrupted run or two processes at
    once never leave a half-written data set that a later call would take as complete. A second call returns at once.
    """
    root = Path(root) if root is not None else default_demo_root()
    if _is_complete(root):
        return [root / name for name in CATEGORY_NAMES]
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise InputError(
            f"{root}: exists but is not a complete demo data set of version {DEMO_VERSION}; remove it or choose "
            "another folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    try:
        write_demo_dataset(staging)
        if root.exists():
            root.rmdir()  # an empty folder the user made for us; rename cannot replace it everywhere
        os.rename(staging, root)
    except OSError:
        if not _is_complete(root):  # another process winning the race is fine; anything else is not
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [root / name for name in CATEGORY_NAMES]


def write_demo_dataset(folder: Path) -> None:
    """Generate every category into `folder` (which must exist), then the marker saying the set is complete.

    The bytes are the same on every run with the same versions of NumPy, SciPy, scikit-image and Pillow.
    """
    sources = _load_sources()
    for index, spec in enumerate(_SPECS):
        _write_category(folder / spec.name, index, spec, sources)
    (folder / "README.md").write_text(_README, encoding="utf-8")
    marker = {"version": DEMO_VERSION, "categories": list(CATEGORY_NAMES), "size": DEMO_SIZE}
    (folder / _MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _is_complete(root: Path) -> bool:
    try:
        marker = json.loads((root / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("version") == DEMO_VERSION and marker.get("categories") == list(CATEGORY_NAMES)


def _write_category(folder: Path, category_index: int, spec: _Spec, sources: _Sources) -> None:
    jobs: list[tuple[int, int, str]] = [(0, index, "") for index in range(TRAIN_COUNT)]
    jobs += [(1, index, "") for index in range(TEST_GOOD_COUNT)]
    for kind_index, (kind, count) in enumerate(spec.defects):
        jobs += [(2 + kind_index, index, kind) for index in range(count)]

    def make(job: tuple[int, int, str]) -> None:
        split, index, kind = job
        # One random stream per image, so each image is the same whatever else is generated, and in any order.
        rng = np.random.default_rng([_SEED, DEMO_VERSION, category_index, split, index])
        scene = _normal_scene(spec.name, sources, rng)
        if not kind:
            subfolder = "train/good" if split == 0 else "test/good"
            _save(_finish(scene.image, rng), folder / subfolder / f"{index:03d}.png")
            return
        mask = _DEFECTS[kind](scene, sources, rng)
        _save(_finish(scene.image, rng), folder / "test" / kind / f"{index:03d}.png")
        _save(mask.astype(np.uint8) * 255, folder / "ground_truth" / kind / f"{index:03d}_mask.png")

    # NumPy, SciPy and Pillow's PNG encoder release the GIL, so threads share the work across cores.
    if _WORKERS == 1:
        for job in jobs:
            make(job)
        return
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for _ in pool.map(make, jobs):  # consuming the results re-raises any error from a worker
            pass


def _save(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # No metadata and a fixed compression level: the same pixels always give the same bytes. Level 1 because noisy
    # images hardly compress anyway and the higher levels triple the generation time.
    Image.fromarray(array).save(path, format="PNG", compress_level=1)


# --- painting ---------------------------------------------------------------------------------------------

_SUPERSAMPLE = 4  # shapes are drawn 4x finer and averaged down, which gives anti-aliased edges and exact coverage
_TEXTURE_PAD = 96
_CUP_PAD = 48
_CUP_SCALE = 0.7  # the cup and saucer fill the frame; the photograph (400 px high) still covers it when moved a bit
_SAUCER = (278.0, 235.0, 203.0, 150.0)  # centre x, centre y, half width, half height in the photograph's pixels
_CUP_TOP = (290.0, 110.0, 118.0, 93.0)
_COFFEE = (287.0, 145.0, 86.0, 52.0)  # the liquid is not part of the product: no defect goes there


@dataclass(frozen=True)
class _Sources:
    """The sample images, prepared once per generation (coloured, scaled and padded for cropping)."""

    brick: Image.Image
    gravel: Image.Image
    grass: np.ndarray  # grayscale 0..1, the foreign material of gravel contamination
    cup: Image.Image
    cup_region: Image.Image  # 255 on the saucer and cup, where defects may go


@dataclass
class _Scene:
    """One normal image before noise: defects paint into `image` (float RGB 0..255) inside `region`."""

    image: np.ndarray
    region: np.ndarray
    rim: np.ndarray  # (x, y) points on the object's outer edge, where chips happen; empty for textures
    is_object: bool


def _load_sources() -> _Sources:
    from skimage import data  # these four images are files inside the scikit-image wheel: nothing is downloaded

    def padded(array: np.ndarray, pad: int) -> np.ndarray:
        widths = ((pad, pad), (pad, pad)) + (((0, 0),) if array.ndim == 3 else ())
        return np.pad(array, widths, mode="reflect")

    brick = _colourise(data.brick(), (58, 24, 18), (226, 132, 98))
    gravel = _colourise(data.gravel(), (38, 34, 30), (226, 216, 198))
    photo = Image.fromarray(data.coffee())
    scaled_size = (round(photo.width * _CUP_SCALE), round(photo.height * _CUP_SCALE))
    cup = np.asarray(photo.resize(scaled_size, Image.Resampling.LANCZOS))
    rows, cols = np.mgrid[0 : photo.height, 0 : photo.width]
    inside = _in_ellipse(cols, rows, _SAUCER) | _in_ellipse(cols, rows, _CUP_TOP)
    inside &= ~_in_ellipse(cols, rows, _COFFEE)
    region = Image.fromarray(inside.astype(np.uint8) * 255).resize(scaled_size, Image.Resampling.BILINEAR)
    return _Sources(
        brick=Image.fromarray(padded(brick, _TEXTURE_PAD)),
        gravel=Image.fromarray(padded(gravel, _TEXTURE_PAD)),
        grass=data.grass().astype(np.float32) / 255.0,
        cup=Image.fromarray(padded(cup, _CUP_PAD)),
        cup_region=Image.fromarray(np.pad(np.asarray(region), _CUP_PAD)),
    )


def _colourise(gray: np.ndarray, dark: tuple[int, int, int], light: tuple[int, int, int]) -> np.ndarray:
    level = (gray.astype(np.float32) / 255.0)[:, :, None]
    colour = np.asarray(dark, np.float32) * (1.0 - level) + np.asarray(light, np.float32) * level
    return np.clip(np.rint(colour), 0, 255).astype(np.uint8)


def _in_ellipse(x: np.ndarray, y: np.ndarray, ellipse: tuple[float, float, float, float]) -> np.ndarray:
    cx, cy, ax, ay = ellipse
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 <= 1.0


def _view_matrix(scale: float, angle_degrees: float, flip_x: bool, flip_y: bool) -> np.ndarray:
    """2 x 2 map from output offsets (from the frame centre) to source offsets."""
    angle = np.deg2rad(angle_degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * rotation @ np.diag([-1.0 if flip_x else 1.0, -1.0 if flip_y else 1.0])


def _view(source: Image.Image, centre: np.ndarray, matrix: np.ndarray, resample: Image.Resampling) -> np.ndarray:
    half = DEMO_SIZE / 2.0
    offset = centre - matrix @ np.array([half, half])
    coefficients = (matrix[0, 0], matrix[0, 1], offset[0], matrix[1, 0], matrix[1, 1], offset[1])
    return np.asarray(source.transform((DEMO_SIZE, DEMO_SIZE), Image.Transform.AFFINE, coefficients, resample))


def _normal_scene(name: str, sources: _Sources, rng: np.random.Generator) -> _Scene:
    """A defect-free view: a random crop of a texture, or the cup placed with a little play in position and angle."""
    everywhere = np.ones((DEMO_SIZE, DEMO_SIZE), dtype=bool)
    no_rim = np.zeros((0, 2))
    if name in ("brick", "gravel"):
        source = sources.brick if name == "brick" else sources.gravel
        # Bricks stay level (a camera above a wall); gravel has no orientation and may turn freely.
        angle = rng.uniform(-2.0, 2.0) if name == "brick" else rng.uniform(0.0, 360.0)
        scale = rng.uniform(0.9, 1.1)
        matrix = _view_matrix(scale, angle, bool(rng.integers(2)), bool(rng.integers(2)))
        # Keep the turned frame inside the photograph: the mirrored padding would show as seams.
        reach = DEMO_SIZE / 2.0 * scale * (abs(np.cos(np.deg2rad(angle))) + abs(np.sin(np.deg2rad(angle)))) + 2.0
        centre = rng.uniform(_TEXTURE_PAD + reach, _TEXTURE_PAD + 512 - reach, size=2)
        image = _view(source, centre, matrix, Image.Resampling.BICUBIC)
        return _Scene(image.astype(np.float32), everywhere, no_rim, is_object=False)
    shift = np.array([rng.uniform(-8.0, 8.0), rng.uniform(-4.5, 4.5)])  # less play vertically: the photo ends there
    centre = np.array([_SAUCER[0], 201.0]) * _CUP_SCALE + _CUP_PAD + shift
    matrix = _view_matrix(rng.uniform(0.98, 1.02), rng.uniform(-2.0, 2.0), False, False)
    image = _view(sources.cup, centre, matrix, Image.Resampling.BICUBIC)
    region = _view(sources.cup_region, centre, matrix, Image.Resampling.NEAREST) > 127
    # Chips happen on the saucer's front edge, which the cup does not hide.
    angles = np.deg2rad(np.linspace(15.0, 165.0, 60))
    rim_source = np.stack([_SAUCER[0] + _SAUCER[2] * np.cos(angles), _SAUCER[1] + _SAUCER[3] * np.sin(angles)], 1)
    rim_scaled = rim_source * _CUP_SCALE + _CUP_PAD
    rim = (rim_scaled - centre) @ np.linalg.inv(matrix).T + DEMO_SIZE / 2.0
    rim = rim[((rim >= 8.0) & (rim <= DEMO_SIZE - 8.0)).all(axis=1)]  # the frame cuts the saucer's sides off
    return _Scene(image.astype(np.float32), region, rim, is_object=True)


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, uneven lighting and sensor noise, as a camera adds them, then rounding to 8 bits."""
    gain = rng.uniform(0.93, 1.07) * rng.uniform(0.98, 1.02, size=3)
    offset = rng.uniform(-5.0, 5.0)
    direction = rng.uniform(0.0, 2.0 * np.pi)
    coordinates = (np.arange(DEMO_SIZE, dtype=np.float32) - DEMO_SIZE / 2.0) / (DEMO_SIZE / 2.0)
    ramp = np.cos(direction) * coordinates[None, :] + np.sin(direction) * coordinates[:, None]
    lighting = 1.0 + rng.uniform(0.0, 0.06) * ramp
    noisy = image * lighting[:, :, None] * gain + offset + 2.0 * rng.standard_normal(size=image.shape, dtype=np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


# --- defect shapes: each returns the coverage (0..1) of every output pixel ------------------------------------


def _coverage(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Share of each output pixel covered by a set of fine-grid cells (duplicates counted once).

    Counting only the drawn cells, rather than averaging a whole fine canvas, keeps small defects cheap.
    """
    fine = DEMO_SIZE * _SUPERSAMPLE
    cells = np.unique(rows.astype(np.int64) * fine + cols)
    cell_rows, cell_cols = np.divmod(cells, fine)
    pixels = (cell_rows // _SUPERSAMPLE) * DEMO_SIZE + cell_cols // _SUPERSAMPLE
    counts = np.bincount(pixels, minlength=DEMO_SIZE * DEMO_SIZE).reshape(DEMO_SIZE, DEMO_SIZE)
    return (counts / float(_SUPERSAMPLE**2)).astype(np.float32)


def _fine(coordinates: np.ndarray) -> np.ndarray:
    """Output pixel coordinates (pixel centres at integers) on the fine grid."""
    return (np.asarray(coordinates) + 0.5) * _SUPERSAMPLE - 0.5


def _polygon(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Coverage of the polygon with corners (xs, ys) in output pixels."""
    from skimage import draw  # imported here: only generation needs it, and it is slow to import

    return _coverage(*draw.polygon(_fine(ys), _fine(xs), shape=(DEMO_SIZE * _SUPERSAMPLE,) * 2))


def _blur(array: np.ndarray, sigma: float) -> np.ndarray:
    from scipy import ndimage  # imported here: only generation needs it, and it is slow to import

    return ndimage.gaussian_filter(array, sigma)


def _stroke(points: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Coverage of a polyline of varying width: disks stamped every quarter pixel along it."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    distance = np.concatenate([[0.0], np.cumsum(steps)])
    samples = np.arange(0.0, distance[-1] + 1e-9, 0.25)
    xs, ys = (np.interp(samples, distance, points[:, axis]) for axis in (0, 1))
    radii = np.interp(samples, distance, widths) / 2.0
    from skimage import draw  # imported here: only generation needs it, and it is slow to import

    shape = (DEMO_SIZE * _SUPERSAMPLE,) * 2
    disks = [
        draw.disk((_fine(y), _fine(x)), max(r * _SUPERSAMPLE, 0.75), shape=shape) for x, y, r in zip(xs, ys, radii)
    ]
    return _coverage(np.concatenate([rows for rows, _ in disks]), np.concatenate([cols for _, cols in disks]))


def _blob(centre: np.ndarray, radius: float, rng: np.random.Generator, roughness: float) -> np.ndarray:
    """Coverage of an irregular closed shape: an ellipse whose radius wobbles with a few random harmonics."""
    theta = np.linspace(0.0, 2.0 * np.pi, 128, endpoint=False)
    wobble = np.ones_like(theta)
    for harmonic in range(2, 8):
        wobble += rng.uniform(0.0, roughness) / harmonic * np.cos(harmonic * theta + rng.uniform(0.0, 2.0 * np.pi))
    stretch, turn = rng.uniform(0.65, 1.0), rng.uniform(0.0, np.pi)
    local_x, local_y = radius * wobble * np.cos(theta), radius * stretch * wobble * np.sin(theta)
    xs = centre[0] + local_x * np.cos(turn) - local_y * np.sin(turn)
    ys = centre[1] + local_x * np.sin(turn) + local_y * np.cos(turn)
    return _polygon(xs, ys)


def _crack_path(start: np.ndarray, length: float, rng: np.random.Generator) -> np.ndarray:
    """A zigzag of short straight runs around a slowly turning main direction, as brittle material breaks."""
    main = rng.uniform(0.0, 2.0 * np.pi)
    points = [start.astype(float)]
    travelled = 0.0
    while travelled < length:
        main += rng.normal(0.0, 0.12)
        heading = main + rng.normal(0.0, 0.5)
        run = rng.uniform(2.0, 7.0)
        points.append(points[-1] + run * np.array([np.cos(heading), np.sin(heading)]))
        travelled += run
    return np.array(points)


def _pick_point(region: np.ndarray, margin: float, rng: np.random.Generator) -> np.ndarray:
    """A random (x, y) in `region` at least `margin` pixels from its edge and from the frame's."""
    inner = region.copy()
    inner[0, :] = inner[-1, :] = inner[:, 0] = inner[:, -1] = False
    from scipy import ndimage

    rows, cols = np.nonzero(ndimage.distance_transform_edt(inner) >= margin)
    index = rng.integers(len(rows))
    return np.array([cols[index], rows[index]], dtype=float)


def _smooth_noise(rng: np.random.Generator, sigma: float) -> np.ndarray:
    field = _blur(rng.normal(size=(DEMO_SIZE, DEMO_SIZE)).astype(np.float32), sigma)
    return field / (field.std() + 1e-6)


def _until_visible(make: Callable[[], np.ndarray], region: np.ndarray, min_area: int) -> np.ndarray:
    """Draw shapes until one covers `min_area` pixels inside the region (a crack may run off the object)."""
    for _ in range(50):
        coverage = make() * region
        if int((coverage >= 0.5).sum()) >= min_area:
            return coverage
    raise RuntimeError("demo generation could not place a visible defect")  # a bug in the constants, not user input


# --- defect kinds: each paints into the scene and returns the exact ground-truth mask -------------------------


def _crack(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    thin = scene.is_object  # glaze cracks on the cup are finer than cracks in brick

    def make() -> np.ndarray:
        length = rng.uniform(45.0, 120.0)
        path = _crack_path(_pick_point(scene.region, 12.0, rng), length, rng)
        width = rng.uniform(1.2, 2.0) if thin else rng.uniform(1.4, 2.4)
        taper = 0.35 + 0.65 * np.sin(np.linspace(0.0, np.pi, len(path))) ** 0.5
        coverage = _stroke(path, width * taper)
        if rng.random() < 0.6:
            fork = path[rng.integers(len(path) // 3, 2 * len(path) // 3)]
            branch = _crack_path(fork, rng.uniform(0.3, 0.5) * length, rng)
            coverage = np.maximum(coverage, _stroke(branch, width * np.linspace(0.7, 0.3, len(branch))))
        return coverage

    alpha = _until_visible(make, scene.region, 30)
    # The gap is in shadow, darker where it is wider; never ink-black, the far wall still catches some light.
    scene.image *= (1.0 - rng.uniform(0.5, 0.7) * alpha * (0.8 + 0.2 * _smooth_noise(rng, 2.0).clip(-1, 1)))[:, :, None]
    return alpha >= 0.5


def _scratch(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    # Only on the dark glaze (and the spoon's shadowed metal): a pale scratch on white porcelain would not show.
    glaze = scene.region & (scene.image.mean(axis=2) < 140.0)

    def make() -> np.ndarray:
        start = _pick_point(glaze, 6.0, rng)
        heading, length = rng.uniform(0.0, 2.0 * np.pi), rng.uniform(40.0, 110.0)
        end = start + length * np.array([np.cos(heading), np.sin(heading)])
        bend = (start + end) / 2.0 + rng.normal(0.0, 0.15 * length, size=2)
        t = np.linspace(0.0, 1.0, 64)[:, None]
        curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * bend + t**2 * end  # a gentle arc, as a dragged tool leaves
        widths = rng.uniform(1.3, 2.2) * (0.6 + 0.4 * np.sin(np.pi * t[:, 0]))
        coverage = _stroke(curve, widths)
        if rng.random() < 0.35:
            offset = rng.uniform(3.0, 6.0) * np.array([-np.sin(heading), np.cos(heading)])
            coverage = np.maximum(coverage, _stroke(curve[8:-8] + offset, widths[8:-8] * 0.8))
        return coverage

    alpha = _until_visible(make, glaze, 30)
    # A scratch in glaze scatters light: it shows as a pale line on the dark glossy surface.
    scene.image += ((255.0 - scene.image) * rng.uniform(0.45, 0.65) * alpha[:, :, None]).astype(np.float32)
    return alpha >= 0.5


def _spill(scene: _Scene, rng: np.random.Generator, tint: tuple[float, float, float], strength: float) -> np.ndarray:
    """A liquid mark: an irregular soft-edged blob (sometimes with a splash beside it) that darkens and tints."""

    def make() -> np.ndarray:
        coverage = _blob(_pick_point(scene.region, 24.0, rng), rng.uniform(10.0, 22.0), rng, 0.5)
        if rng.random() < 0.4:
            splash = _blob(_pick_point(scene.region, 16.0, rng), rng.uniform(5.0, 9.0), rng, 0.4)
            coverage = np.maximum(coverage, splash)
        return _blur(coverage, rng.uniform(0.8, 1.6))

    alpha = _until_visible(make, scene.region, 60)
    # Liquid dries darker at its rim and unevenly inside.
    rim = np.clip(4.0 * alpha * (1.0 - alpha), 0.0, 1.0)
    amount = alpha * np.clip(strength * rng.uniform(0.85, 1.15) + 0.12 * _smooth_noise(rng, 3.0) + 0.2 * rim, 0.15, 0.9)
    scene.image *= 1.0 - amount[:, :, None] * (1.0 - np.asarray(tint, dtype=np.float32))
    return alpha >= 0.5


def _stain(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    tints = ((0.35, 0.3, 0.25), (0.55, 0.4, 0.2), (0.3, 0.33, 0.38))  # soot, rust, damp
    return _spill(scene, rng, tints[rng.integers(len(tints))], 0.5)


def _oil(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    return _spill(scene, rng, (0.22, 0.2, 0.18), 0.65)


def _hole(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    centre = np.zeros(2)

    def make() -> np.ndarray:
        centre[:] = _pick_point(scene.region, 20.0, rng)
        return _blur(_blob(centre, rng.uniform(7.0, 15.0), rng, 0.45), 0.5)

    alpha = _until_visible(make, scene.region, 60)
    # A pit where material broke out: darkest in the middle, walls lit from one side, rough grit.
    depth = _blur((alpha >= 0.5).astype(np.float32), 2.5)
    light = rng.uniform(0.0, 2.0 * np.pi)
    rows, cols = np.mgrid[0:DEMO_SIZE, 0:DEMO_SIZE].astype(np.float32)
    facing = ((cols - centre[0]) * np.cos(light) + (rows - centre[1]) * np.sin(light)) / 15.0
    mean_colour = (scene.image * alpha[:, :, None]).sum(axis=(0, 1)) / alpha.sum()
    brightness = 0.32 + 0.4 * (1.0 - depth) + 0.22 * facing + 0.1 * _smooth_noise(rng, 0.8)
    brightness = np.clip(brightness, 0.12, 1.0)
    cavity = mean_colour[None, None, :] * brightness[:, :, None]
    scene.image[:] = scene.image * (1.0 - alpha[:, :, None]) + cavity * alpha[:, :, None]
    return alpha >= 0.5


def _debris(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    def make() -> np.ndarray:
        return _blur(_blob(_pick_point(scene.region, 24.0, rng), rng.uniform(10.0, 20.0), rng, 0.6), 0.7)

    alpha = _until_visible(make, scene.region, 60)
    top, left = rng.integers(0, sources.grass.shape[0] - DEMO_SIZE, size=2)
    level = sources.grass[top : top + DEMO_SIZE, left : left + DEMO_SIZE, None]
    dark, light = np.array([30.0, 48.0, 14.0]), np.array([150.0, 178.0, 70.0])  # plant matter among the stones
    debris = (dark * (1.0 - level) + light * level).astype(np.float32)
    scene.image[:] = scene.image * (1.0 - alpha[:, :, None]) + debris * alpha[:, :, None]
    return alpha >= 0.5


def _plastic(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    """A shard of coloured plastic: an angular flat piece with a smooth sheen, unlike any stone."""
    centre = np.zeros(2)

    def make() -> np.ndarray:
        centre[:] = _pick_point(scene.region, 20.0, rng)
        corners = np.sort(rng.uniform(0.0, 2.0 * np.pi, size=rng.integers(5, 8)))
        radii = rng.uniform(8.0, 16.0) * rng.uniform(0.6, 1.0, size=len(corners))
        xs, ys = centre[0] + radii * np.cos(corners), centre[1] + radii * np.sin(corners)
        return _polygon(xs, ys)

    alpha = _until_visible(make, scene.region, 50)
    colours = ((45.0, 95.0, 205.0), (205.0, 45.0, 40.0), (230.0, 190.0, 45.0))
    colour = np.asarray(colours[rng.integers(len(colours))], dtype=np.float32)
    light = rng.uniform(0.0, 2.0 * np.pi)
    rows, cols = np.mgrid[0:DEMO_SIZE, 0:DEMO_SIZE].astype(np.float32)
    sheen = 0.9 + 0.25 * ((cols - centre[0]) * np.cos(light) + (rows - centre[1]) * np.sin(light)) / 15.0
    shard = colour[None, None, :] * np.clip(sheen, 0.6, 1.2)[:, :, None]
    scene.image[:] = scene.image * (1.0 - alpha[:, :, None]) + np.minimum(shard, 255.0) * alpha[:, :, None]
    return alpha >= 0.5


def _chip(scene: _Scene, sources: _Sources, rng: np.random.Generator) -> np.ndarray:
    def make() -> np.ndarray:
        centre = scene.rim[rng.integers(len(scene.rim))] + rng.normal(0.0, 1.5, size=2)
        return _blur(_blob(centre, rng.uniform(9.0, 16.0), rng, 0.9), 0.5)

    alpha = _until_visible(make, scene.region, 50)
    # Broken glaze shows the pale, rough ceramic body underneath.
    body = np.array([222.0, 208.0, 188.0], dtype=np.float32)
    texture = np.clip(0.82 + 0.06 * _smooth_noise(rng, 1.2), 0.6, 1.0)[:, :, None]
    scene.image[:] = scene.image * (1.0 - alpha[:, :, None]) + body * texture * alpha[:, :, None]
    return alpha >= 0.5


_DEFECTS: dict[str, Callable[[_Scene, _Sources, np.random.Generator], np.ndarray]] = {
    "crack": _crack,
    "scratch": _scratch,
    "stain": _stain,
    "oil": _oil,
    "hole": _hole,
    "debris": _debris,
    "plastic": _plastic,
    "chip": _chip,
}

_README = f"""# Inspection Station demo data (version {DEMO_VERSION})

Generated by `core/data/demo.py`; do not edit, delete the folder to regenerate it.

Made from scikit-image's sample images `brick`, `gravel`, `grass` (CC0, from CC0Textures and DeviantArt user
linolafett) and `coffee` (CC0, photograph by Rachel Michetti), as shipped with scikit-image. The defects are
synthetic; each mask in `ground_truth/` marks exactly the painted defect.

Layout: MVTec AD (`<category>/train/good`, `<category>/test/<defect|good>`, `<category>/ground_truth/<defect>`).
"""
