"""Image AUROC per category of a bundle, with ONNX Runtime alone: torch crashes under qemu-user, and `core evaluate`
imports it. Run on the emulated CPU without VNNI:

    python tests/no_vnni.py -m tests.bundle_auroc BUNDLE OUT.json DATA_DIR [DATA_DIR ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from core.data.dataset import discover_categories, iter_load_test_set
from core.jobs import run_to_end
from core.metrics import image_auroc
from core.runtime import open_runtime


def main(bundle: str, out: str, *roots: str) -> None:
    runtime = open_runtime(Path(bundle), "onnxruntime")
    results = {}
    for category in discover_categories([Path(root) for root in roots]):
        test = run_to_end(iter_load_test_set(category, runtime.image_size))
        scores = np.concatenate([runtime.predict(test.images[start : start + 4])[0]
                                 for start in range(0, len(test.images), 4)])
        results[category.name] = {"image_auroc": image_auroc(test.labels, scores), "scores": scores.tolist()}
        print(category.name, f"{results[category.name]['image_auroc']:.3f}", flush=True)
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
