"""Finding the images of a category on disk: MVTec AD layout or a plain folder of normal images.

A category is one folder, named by that folder. In MVTec AD layout it holds `train/good/` (normal images),
`test/<defect or good>/` and `ground_truth/<defect>/<stem>_mask.png`; any other folder is taken as normal images
only, searched recursively. Discovery checks what can be checked cheaply (every defect image has a mask of its size)
so that a bad data set is refused before a long training run, not in the middle of it.

Example:
    >>> categories = discover_categories([Path("data/bottle"), Path("data/magnetic_tile")])   # doctest: +SKIP
    >>> fit_paths, holdout_paths = split_holdout(categories[0].train, fraction=0.1, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from core.data.images import (
    IMAGE_SUFFIXES,
    ImageReadError,
    is_image_file,
    read_image,
    read_image_hw,
    read_mask,
    resize_image,
    resize_mask,
)
from core.errors import InputError
from core.jobs import CancelToken, Job, Progress, run_to_end

LAYOUT_MVTEC = "mvtec"
LAYOUT_FOLDER = "folder"
GOOD = "good"
_MASK_SUFFIX = "_mask"
DEFAULT_MIN_IMAGES = 4  # below this a model of "normal" is meaningless and its threshold cannot be checked
MIN_TRAINING_IMAGES = DEFAULT_MIN_IMAGES + 1  # the images to learn from, and one held out to choose the threshold
_MAX_NAMES_IN_MESSAGE = 10  # long lists of files are cut so a message still fits in a dialog
_MAX_READ_THREADS = 4


@dataclass(frozen=True)
class TestSample:
    """One test image: `label` 0 for good, 1 for defective; `mask_path` is None for good images (all-zero mask).

    `mask_empty` marks a defective image whose mask has no defect pixel: it counts for image-level metrics only.
    """

    __test__ = False  # not a pytest test class, despite the name

    path: Path
    label: int
    defect: str
    mask_path: Path | None
    mask_empty: bool = False


@dataclass(frozen=True)
class Category:
    """The images of one category, found on disk; `warnings` are things the user should know but that do not stop work.

    `layout` is "mvtec" or "folder"; a folder category has training images only (`test` is empty).

    Example:
        >>> bottle = discover_category(Path("mvtec_ad/bottle"))        # doctest: +SKIP
        >>> bottle.name, bottle.layout, len(bottle.train)              # doctest: +SKIP
        ('bottle', 'mvtec', 53)
    """

    name: str
    root: Path
    layout: str
    train: tuple[Path, ...]
    test: tuple[TestSample, ...]
    warnings: tuple[str, ...] = ()

    @property
    def defects(self) -> tuple[str, ...]:
        """The defect kinds in the test set, sorted, without "good"."""
        return tuple(sorted({sample.defect for sample in self.test if sample.label == 1}))


def list_images(folder: Path, recursive: bool = True) -> list[Path]:
    """Image files in `folder` (see `IMAGE_SUFFIXES`), sorted by their path relative to it; hidden entries skipped."""
    folder = Path(folder)
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found = [
        path
        for path in candidates
        if is_image_file(path) and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]
    return sorted(found, key=lambda path: path.relative_to(folder).as_posix())


def expand_image_inputs(inputs: Sequence[Path]) -> list[Path]:
    """Image files as given, and the images of folders (searched recursively), in order; InputError for an input
    that is neither, or a folder without images."""
    paths: list[Path] = []
    for item in map(Path, inputs):
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


def discover_category(root: Path) -> Category:
    """Find the training and test images of the category in `root`, in MVTec AD layout or as a plain folder.

    Raises `InputError` naming the file or folder when the folder is missing or has no images, when a defect image
    has no mask, or when a mask's size differs from its image's.
    """
    root = Path(root)
    if not root.exists():
        raise InputError(f"{root}: folder does not exist")
    if not root.is_dir():
        raise InputError(f"{root}: is not a folder")
    name = root.name or root.resolve().name
    if (root / "train" / GOOD).is_dir():
        return _discover_mvtec(root, name)
    for part in ("train", "test", "ground_truth"):
        if (root / part).is_dir():
            # Taking such a folder as plain normal images would train on its defect images.
            raise InputError(
                f"{root}: looks like the MVTec AD layout (it has a '{part}' folder) but has no 'train/good' folder "
                "with the normal training images"
            )
    train = list_images(root)
    if not train:
        raise InputError(f"{root}: no images found (looked for {_suffix_list()} files, in subfolders too)")
    relative = [path.relative_to(root).parts for path in train]
    nested = sorted({Path(*parts[:-3]) for parts in relative if len(parts) > 3 and parts[-3:-1] == ("train", GOOD)})
    if nested:
        # A parent of MVTec AD categories: read as plain normal images it would train on every defect image.
        raise InputError(
            f"{root}: holds whole categories in MVTec AD layout ({_name_list(nested)}); choose those category "
            "folders instead"
        )
    return Category(name=name, root=root, layout=LAYOUT_FOLDER, train=tuple(train), test=())


def discover_categories(roots: Sequence[Path]) -> list[Category]:
    """Discover several categories for one training run; their folder names must differ, as they name the models."""
    if not roots:
        raise InputError("no category folder given: choose at least one folder of images")
    categories: list[Category] = []
    seen: dict[str, Path] = {}
    for root in roots:
        category = discover_category(Path(root))
        if category.name in seen:
            raise InputError(
                f"{root}: category name '{category.name}' is also the name of {seen[category.name]}; "
                "categories are named by their folder, so rename one of them"
            )
        seen[category.name] = Path(root)
        categories.append(category)
    return categories


def check_enough_to_train(category: Category) -> None:
    """Refuse, naming the folder, a category with fewer than `MIN_TRAINING_IMAGES` normal images.

    With fewer, `split_holdout` holds none out, and a threshold chosen on the very images the model learnt from
    would flag nearly every new part.
    """
    count = len(category.train)
    if count < MIN_TRAINING_IMAGES:
        folder = category.root / "train" / GOOD if category.layout == LAYOUT_MVTEC else category.root
        raise InputError(
            f"{folder}: {count} normal image{'s' if count != 1 else ''}, too few to train on: at least "
            f"{MIN_TRAINING_IMAGES} are needed ({DEFAULT_MIN_IMAGES} to learn from and 1 held out to choose the "
            "threshold)"
        )


def split_holdout(paths: Sequence[Path], fraction: float = 0.1, seed: int = 0) -> tuple[list[Path], list[Path]]:
    """Split normal images into (fit, holdout): the holdout serves validation and the choice of threshold.

    The split depends only on the set of paths and `seed`, not on their order, so it is the same on every run.
    `round(fraction * n)` images are held out, at least one when there are 5 or more, and at least one is always
    left to fit on. Both lists come back sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"holdout fraction must be at least 0 and below 1, got {fraction}")
    ordered = sorted((Path(path) for path in paths), key=lambda path: path.as_posix())
    count = len(ordered)
    held = int(round(fraction * count))
    if fraction > 0.0 and count >= 5:
        held = max(held, 1)
    held = min(held, max(count - 1, 0))
    chosen = set(np.random.default_rng(seed).permutation(count)[:held].tolist())
    fit = [path for index, path in enumerate(ordered) if index not in chosen]
    holdout = [path for index, path in enumerate(ordered) if index in chosen]
    return fit, holdout


def find_mask(ground_truth: Path, defect: str, image_path: Path) -> Path | None:
    """The mask of a defect image: `ground_truth/<defect>/<stem>_mask.<ext>`, else `<stem>.<ext>`; None if absent."""
    folder = ground_truth / defect
    if not folder.is_dir():
        return None
    for stem in (image_path.stem + _MASK_SUFFIX, image_path.stem):
        for suffix in (".png", *sorted(IMAGE_SUFFIXES - {".png"})):
            for candidate in (folder / (stem + suffix), folder / (stem + suffix.upper())):
                if candidate.is_file():
                    return candidate
    return None


def _discover_mvtec(root: Path, name: str) -> Category:
    train_dir = root / "train" / GOOD
    train = list_images(train_dir)
    if not train:
        raise InputError(f"{train_dir}: no images found (looked for {_suffix_list()} files)")
    warnings: list[str] = []
    test_dir = root / "test"
    found: list[tuple[str, Path]] = []
    if test_dir.is_dir():
        defect_dirs = [path for path in test_dir.iterdir() if path.is_dir() and not path.name.startswith(".")]
        for defect_dir in sorted(defect_dirs):
            found.extend((defect_dir.name, image_path) for image_path in list_images(defect_dir))
    samples: list[TestSample] = []
    # Reading every mask (to find empty ones) is the slow part of discovery, hence the threads.
    for outcome in _map_in_threads(lambda item: _test_sample(root, *item), found, None):
        if isinstance(outcome, ImageReadError):
            raise outcome
        samples.append(outcome)
    if not samples:
        warnings.append(f"{name}: no test images in {test_dir}; the model can be trained but not evaluated")
    else:
        if not any(sample.label == 0 for sample in samples):
            warnings.append(f"{name}: no good test images in {test_dir / GOOD}; image-level metrics need some")
        if not any(sample.label == 1 for sample in samples):
            warnings.append(f"{name}: no defective test images in {test_dir}; only false alarms can be measured")
    empty = [sample for sample in samples if sample.mask_empty]
    if empty:
        warnings.append(
            f"{name}: {len(empty)} defective test image(s) have an empty mask and count for image-level metrics "
            f"only: {_name_list([sample.path.relative_to(root) for sample in empty])}"
        )
    return Category(
        name=name, root=root, layout=LAYOUT_MVTEC, train=tuple(train), test=tuple(samples), warnings=tuple(warnings)
    )


def _test_sample(root: Path, defect: str, image_path: Path) -> TestSample:
    if defect == GOOD:
        return TestSample(path=image_path, label=0, defect=defect, mask_path=None)
    ground_truth = root / "ground_truth"
    mask_path = find_mask(ground_truth, defect, image_path)
    if mask_path is None:
        expected = ground_truth / defect / f"{image_path.stem}{_MASK_SUFFIX}.png"
        raise InputError(f"{image_path}: defect image has no mask (expected {expected})")
    mask = read_mask(mask_path, expected_hw=read_image_hw(image_path))
    return TestSample(path=image_path, label=1, defect=defect, mask_path=mask_path, mask_empty=not bool(mask.any()))


def _suffix_list() -> str:
    return ", ".join(sorted(IMAGE_SUFFIXES))


def _name_list(paths: Sequence[Path]) -> str:
    names = [path.as_posix() for path in paths[:_MAX_NAMES_IN_MESSAGE]]
    more = len(paths) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class LoadedImages:
    """Normal images read and resized for training: `images` is N x S x S x 3 `uint8`, in the order of `paths`.

    `skipped` lists the files that could not be read, each with the reason, so the user can be told which and why.
    """

    images: np.ndarray
    paths: tuple[Path, ...]
    skipped: tuple[tuple[Path, str], ...]


class TestSet(NamedTuple):
    """A category's test images resized to S x S, in the order of `Category.test`; unpacks as (images, labels, masks).

    `images` is N x S x S x 3 `uint8`, `labels` N `int64` (0 good, 1 defective), `masks` N x S x S `bool`.
    """

    __test__ = False  # not a pytest test class, despite the name

    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray


def iter_load_normal_images(
    paths: Sequence[Path], image_size: int, min_images: int = DEFAULT_MIN_IMAGES, cancel: CancelToken | None = None
) -> Job[LoadedImages]:
    """Job that reads and resizes normal images, skipping the unreadable ones; returns `LoadedImages`.

    Skipping rather than stopping lets one bad file in a folder of hundreds pass with a report, while `min_images`
    refuses (with `InputError`) a folder where so few images are left that a model would be meaningless.
    """
    paths = tuple(Path(path) for path in paths)
    if not paths:
        raise InputError("no normal images given to train on")
    images = np.empty((len(paths), image_size, image_size, 3), dtype=np.uint8)
    kept: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    results = _map_in_threads(lambda path: resize_image(read_image(path), image_size), paths, cancel)
    for index, (path, outcome) in enumerate(zip(paths, results)):
        if isinstance(outcome, ImageReadError):
            skipped.append((path, outcome.reason))
        else:
            images[len(kept)] = outcome
            kept.append(path)
        yield Progress(index + 1, len(paths), f"read {path.name}", stage="load")
    if len(kept) < min_images:
        details = _name_list([Path(f"{path} ({reason})") for path, reason in skipped])
        raise InputError(
            f"only {len(kept)} of {len(paths)} normal images could be read (in {_common_folder(paths)}); "
            f"at least {min_images} are needed" + (f". Unreadable: {details}" if skipped else "")
        )
    if len(kept) < len(paths):
        images = images[: len(kept)].copy()  # a copy, so the rows of skipped files are not kept alive in memory
    return LoadedImages(images=images, paths=tuple(kept), skipped=tuple(skipped))


def load_normal_images(
    paths: Sequence[Path], image_size: int, min_images: int = DEFAULT_MIN_IMAGES, cancel: CancelToken | None = None
) -> LoadedImages:
    """Read and resize normal images at once; see `iter_load_normal_images` for the rules."""
    return run_to_end(iter_load_normal_images(paths, image_size, min_images, cancel))


def iter_load_test_set(category: Category, image_size: int, cancel: CancelToken | None = None) -> Job[TestSet]:
    """Job that reads a category's test images and masks, resized to `image_size`; returns a `TestSet`.

    Unlike training, a bad test file stops with `InputError`: silently dropping test images would change the metrics.
    """
    samples = category.test
    count = len(samples)
    images = np.empty((count, image_size, image_size, 3), dtype=np.uint8)
    masks = np.zeros((count, image_size, image_size), dtype=bool)
    labels = np.array([sample.label for sample in samples], dtype=np.int64)
    results = _map_in_threads(lambda sample: _read_test_sample(sample, image_size), samples, cancel)
    for index, (sample, outcome) in enumerate(zip(samples, results)):
        if isinstance(outcome, ImageReadError):
            raise outcome
        images[index], masks[index] = outcome
        yield Progress(index + 1, count, f"read {sample.defect}/{sample.path.name}", stage="load test")
    return TestSet(images=images, labels=labels, masks=masks)


def load_test_set(category: Category, image_size: int, cancel: CancelToken | None = None) -> TestSet:
    """Read a category's test set at once: (images N x S x S x 3 uint8, labels N int64, masks N x S x S bool)."""
    return run_to_end(iter_load_test_set(category, image_size, cancel))


def fingerprint(paths: Sequence[Path]) -> str:
    """SHA-256 over the files' names relative to their common folder, sizes and modification times.

    Cheap enough to run on every training start (no file is read), and it changes when a file is added, removed,
    renamed or rewritten, which is what the model manifest needs to say "trained on this data".
    """
    paths = [Path(path) for path in paths]
    digest = hashlib.sha256()
    digest.update(f"inspection-station-fingerprint-v1\n{len(paths)}\n".encode())
    base = _common_folder(paths)
    entries = []
    for path in paths:
        try:
            info = path.stat()
        except OSError as error:
            raise InputError(f"{path}: cannot read file information ({error.strerror or error})") from None
        entries.append((_relative_name(path, base), info.st_size, info.st_mtime_ns))
    for name, size, mtime_ns in sorted(entries):
        digest.update(f"{name}\t{size}\t{mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_test_sample(sample: TestSample, image_size: int) -> tuple[np.ndarray, np.ndarray]:
    image = read_image(sample.path)
    if sample.mask_path is None:
        mask = np.zeros((image_size, image_size), dtype=bool)
    else:
        mask = resize_mask(read_mask(sample.mask_path, expected_hw=image.shape[:2]), image_size)
    return resize_image(image, image_size), mask


Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


def _map_in_threads(
    function: Callable[[Item], Outcome], items: Sequence[Item], cancel: CancelToken | None
) -> Iterator[Outcome | ImageReadError]:
    """Apply `function` to each item on a few threads, in order; an `ImageReadError` is yielded instead of raised.

    Pillow releases the GIL while decoding and resizing, so threads use every core without the cost of processes.
    Only a small window of work is queued ahead, so cancelling stops the reading promptly.
    """
    workers = max(1, min(_MAX_READ_THREADS, os.cpu_count() or 1))
    window = 2 * workers

    def guarded(item: Item) -> Outcome | ImageReadError:
        try:
            return function(item)
        except ImageReadError as error:
            return error

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="read-images") as pool:
        pending: deque[Future[Outcome | ImageReadError]] = deque()
        upcoming = iter(items)
        try:
            for item in itertools.islice(upcoming, window):
                pending.append(pool.submit(guarded, item))
            while pending:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                outcome = pending.popleft().result()
                for item in itertools.islice(upcoming, 1):
                    pending.append(pool.submit(guarded, item))
                yield outcome
        finally:
            for future in pending:
                future.cancel()


def _common_folder(paths: Sequence[Path]) -> Path:
    if not paths:
        return Path(".")
    try:
        common = Path(os.path.commonpath([str(path.parent) for path in paths]))
    except ValueError:  # paths on different drives, or mixed absolute and relative: no common folder
        return Path("")
    return common


def _relative_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()
