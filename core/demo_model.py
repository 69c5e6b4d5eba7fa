"""The embedded default: a model trained on the generated demo data, so a new user sees a working station at once.

The repository ships one in `resources/demo_model/`. When it is absent (or fails verification), the same model is
trained once into the user's cache; `demo_model_job` is that training, for callers that show progress.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

from core.data.demo import DEMO_VERSION, ensure_demo_dataset
from core.errors import InputError
from core.jobs import CancelToken, Progress, run_to_end
from core.methods.config import ModelConfig
from core.methods.stfpm.settings import StudentSettings
from core.model_manifest import read_manifest

SHIPPED_DEMO_MODEL = Path(__file__).resolve().parents[1] / "resources" / "demo_model"
DEMO_CONFIG = ModelConfig(method="stfpm", backbone="tf_efficientnet_lite0", image_size=256,
                          settings=StudentSettings(epochs=30, batch_size=8))


def cached_demo_model_dir() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "inspection-station" / f"demo-model-v{DEMO_VERSION}"


def usable_demo_model() -> Path | None:
    """The shipped or cached demo model if one verifies, else None."""
    for candidate in (SHIPPED_DEMO_MODEL, cached_demo_model_dir()):
        try:
            read_manifest(candidate)
            return candidate
        except InputError:
            continue
    return None


def demo_model_job(target: Path | None = None, cancel: CancelToken | None = None) -> Generator[Progress, None, Path]:
    """Train the demo model (STFPM on EfficientNet-Lite0, 256 px) on the demo data into `target` (default: cache)."""
    from core.training import train_job  # torch and timm: only to train, never to find the shipped model

    categories = ensure_demo_dataset()
    result = yield from train_job(DEMO_CONFIG, categories, target or cached_demo_model_dir(), cancel)
    return result.model_dir


def ensure_demo_model() -> Path:
    """A ready demo model directory: shipped, cached, or trained now (a few minutes on a 2-core CPU, once)."""
    return usable_demo_model() or run_to_end(demo_model_job())
