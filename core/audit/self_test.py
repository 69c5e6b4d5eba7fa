"""The start-of-shift self-test: known good and known bad parts, registered once, scored by the live model.

The parts belong to the station, not to a model directory: `<parts>/<category>/good|bad/<image>` beside the audit
database (`core.audit.location.parts_folder`). A retrained model (or a later version of it) is tested on the same
physical parts, which is the point of a self-test, and a model directory, replaced whole by every training, would
lose them. A model runs the parts of its own categories, so one station can keep parts for several product lines.

Each part is scored exactly as a live frame is (`core.sources.live.inspect_frame`: same pre-processing, same
per-category threshold rule); a good part must come out OK, a bad one NG. The run is recorded in the audit database.

Example:
    >>> add_parts(parts, [Path("good_1.png")], OK, runtime.categories)
    >>> run = run_to_end(self_test_job(runtime, parts, identity, db_path))
    >>> run.passed, [part.part for part in run.failures]
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path

from core.audit.records import NG, OK, ModelIdentity, PartResult, SelfTestRun, utc_now
from core.audit.store import AuditStore
from core.data.images import is_image_file, read_image
from core.errors import InputError
from core.files import write_file_atomically
from core.jobs import CancelToken, Progress
from core.sources.base import Frame
from core.sources.live import LiveSettings, ScoringRuntime, category_in_path, inspect_frame

_FOLDER_OF = {OK: "good", NG: "bad"}


def part_category(image: Path | None, categories: Sequence[str], category: str | None = None,
                  required: bool = True) -> str:
    """The category an image belongs to: `category` when given, else the one its path names, else the model's only
    one; when none of these says, InputError naming the image, or "" unless `required`."""
    if category:
        if categories and category not in categories:
            raise InputError(f"category {category!r}: not one of the model's ({', '.join(categories)})")
        return category
    named = category_in_path(Path(image).absolute(), list(categories)) if image is not None else ""
    if named:
        return named
    if len(categories) == 1:
        return categories[0]
    if not required:
        return ""
    raise InputError(f"{image}: its path names none of the model's categories ({', '.join(categories) or 'none'}); "
                     f"say which with --category")


def add_parts(parts: Path, images: Sequence[Path], expected: str, categories: Sequence[str],
              category: str | None = None) -> list[Path]:
    """Copy `images` (each checked to be a readable image first) into the self-test set as known good (`expected`
    OK) or known bad (NG) parts; returns the copies. A same-named different image gets a numbered name."""
    checked = []
    for image in images:
        read_image(Path(image))  # InputError naming the file when it is not an image we can read
        checked.append((Path(image), part_category(image, categories, category)))
    copies = []
    for image, part_category_name in checked:
        folder = Path(parts) / part_category_name / _FOLDER_OF[expected]
        folder.mkdir(parents=True, exist_ok=True)
        data = image.read_bytes()
        target, number = folder / image.name, 1
        while target.exists() and target.read_bytes() != data:
            target, number = folder / f"{image.stem}-{number}{image.suffix}", number + 1
        copies.append(write_file_atomically(target, data))
    return copies


def registered_parts(parts: Path, categories: Sequence[str]) -> list[tuple[Path, str]]:
    """(image, expected verdict) of every part registered for `categories` (all categories when empty)."""
    found = []
    for category_folder in sorted(Path(parts).iterdir()) if Path(parts).is_dir() else []:
        if categories and category_folder.name not in categories:
            continue
        for expected, name in _FOLDER_OF.items():
            found += [(path, expected) for path in sorted((category_folder / name).glob("*")) if is_image_file(path)]
    return found


def self_test_job(runtime: ScoringRuntime, parts: Path, model: ModelIdentity, db_path: Path | None,
                  cancel: CancelToken | None = None) -> Generator[Progress, None, SelfTestRun]:
    """Score every registered part of the runtime's categories, record the run in `db_path` (unless None) and
    return it. InputError when no part is registered for these categories."""
    cancel = cancel or CancelToken()
    found = registered_parts(parts, runtime.categories)
    if not found:
        raise InputError(f"{parts}: no self-test parts registered for {', '.join(runtime.categories) or 'this model'}"
                         f"; add known good and bad part images first (--add-good / --add-bad)")
    settings = LiveSettings.for_runtime(runtime)
    results = []
    for index, (path, expected) in enumerate(found, start=1):
        cancel.raise_if_cancelled()
        frame = Frame(read_image(path), index, path.name, path)
        scored = inspect_frame(runtime, frame, settings, index)
        name = path.relative_to(parts).as_posix()
        results.append(PartResult(name, scored.category, expected, scored.verdict, scored.score, scored.threshold))
        yield Progress(index, len(found), f"{name}: {scored.verdict}", stage="self-test")
    run = SelfTestRun(utc_now(), model, tuple(results))
    if db_path is not None:
        with AuditStore(db_path) as store:
            store.add_self_test(run)
    return run
