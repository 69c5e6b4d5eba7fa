"""The data layer: reading images and masks, finding categories on disk, loading them, and the bundled demo set.

Example:
    >>> from core.data import discover_categories, load_normal_images, split_holdout    # doctest: +SKIP
    >>> [bottle] = discover_categories([Path("mvtec_ad/bottle")])                       # doctest: +SKIP
    >>> fit, holdout = split_holdout(bottle.train)                                      # doctest: +SKIP
    >>> normal = load_normal_images(fit, image_size=256)                                # doctest: +SKIP
"""

from core.data.dataset import (
    DEFAULT_MIN_IMAGES,
    MIN_TRAINING_IMAGES,
    Category,
    LoadedImages,
    TestSample,
    TestSet,
    check_enough_to_train,
    discover_categories,
    discover_category,
    fingerprint,
    iter_load_normal_images,
    iter_load_test_set,
    list_images,
    load_normal_images,
    load_test_set,
    split_holdout,
)
from core.data.demo import DEMO_VERSION, ensure_demo_dataset
from core.data.images import (
    IMAGE_SUFFIXES,
    ImageReadError,
    read_image,
    read_image_hw,
    read_mask,
    resize_image,
    resize_mask,
)

__all__ = [
    "DEFAULT_MIN_IMAGES",
    "DEMO_VERSION",
    "IMAGE_SUFFIXES",
    "MIN_TRAINING_IMAGES",
    "Category",
    "ImageReadError",
    "LoadedImages",
    "TestSample",
    "TestSet",
    "check_enough_to_train",
    "discover_categories",
    "discover_category",
    "ensure_demo_dataset",
    "fingerprint",
    "iter_load_normal_images",
    "iter_load_test_set",
    "list_images",
    "load_normal_images",
    "load_test_set",
    "read_image",
    "read_image_hw",
    "read_mask",
    "resize_image",
    "resize_mask",
    "split_holdout",
]
