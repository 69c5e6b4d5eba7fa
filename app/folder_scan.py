"""What the Train page shows about a category folder before training: its layout, image counts, and the files that
cannot be read (checked from their headers, which is quick, so a bad file is found before a long run, not in it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.data.dataset import Category, discover_category
from core.data.images import ImageReadError, read_image_hw


@dataclass(frozen=True)
class FolderScan:
    """A discovered category and the (path, reason) of each unreadable training or test image."""

    category: Category
    unreadable: tuple[tuple[Path, str], ...]

    @property
    def defect_images(self) -> int:
        return sum(sample.label for sample in self.category.test)


def scan_folder(path: Path) -> FolderScan:
    """Discover the category in `path` and check every image header; raises `InputError` for an unusable folder."""
    category = discover_category(path)
    unreadable = []
    for image in [*category.train, *(sample.path for sample in category.test)]:
        try:
            read_image_hw(image)
        except ImageReadError as error:
            unreadable.append((image, error.reason))
    return FolderScan(category, tuple(unreadable))
