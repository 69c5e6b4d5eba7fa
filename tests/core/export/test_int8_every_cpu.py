"""INT8 for the CPU is accurate whatever the CPU's integer path: a small model trained on generated data keeps its
image AUROC through PTQ and QAT. On a CPU without VNNI, full-range weights overflowed the kernels' 16-bit pair sums
and this fell by 30 points (issue 9); on a VNNI CPU it guards the rest of the quantization."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.evaluation import evaluate_job
from core.export.variants import VariantSpec, export_variant_job
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.stfpm.settings import StudentSettings
from core.runtime import open_runtime
from core.training import train_job
from tests import no_vnni
from tests.conftest import make_mvtec_category

SIZE = 64
# "A few points": 12 labelled images per category make each AUROC step 1/36; the saturation cost 30.
ALLOWED_DROP = 0.05


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("int8-every-cpu")
    roots = [make_mvtec_category(root / "data", name, train=12, good=6, bad=6, seed=seed)
             for name, seed in (("stripes", 11), ("waves", 12))]
    config = ModelConfig(method="stfpm", image_size=SIZE, settings=StudentSettings(epochs=3, batch_size=4))
    return run_to_end(train_job(config, roots, root / "model")).model_dir, roots


def mean_image_auroc(model: Path, roots: list[Path]) -> float:
    return run_to_end(evaluate_job(open_runtime(model, "onnxruntime"), roots))["mean"]["image_auroc"]


@pytest.fixture(scope="module")
def fp32_auroc(trained) -> float:
    model_dir, roots = trained
    auroc = mean_image_auroc(model_dir, roots)
    assert auroc >= 0.9  # else a fall could not be seen
    return auroc


@pytest.mark.parametrize("spec", [VariantSpec("int8", "ptq", "train", calibration_samples=16),
                                  VariantSpec("int8", "qat", qat_epochs=1)], ids=lambda spec: spec.name)
def test_cpu_int8_keeps_image_auroc(trained, fp32_auroc, spec, tmp_path) -> None:
    model_dir, roots = trained
    bundle = run_to_end(export_variant_job(model_dir, spec, tmp_path / spec.name, roots))
    runtime = open_runtime(bundle, "onnxruntime")
    assert runtime.int8_warning is None
    assert mean_image_auroc(bundle, roots) >= fp32_auroc - ALLOWED_DROP


@pytest.mark.skipif(no_vnni.emulator() is None, reason=no_vnni.MISSING_REASON)
def test_cpu_int8_bundle_scores_alike_on_a_cpu_without_vnni(trained, tmp_path) -> None:
    """The same bundle on this CPU and on an emulated AVX2 CPU without VNNI (the kernels that saturated): the
    scores agree to rounding. ONNX Runtime alone runs under the emulator (no torch: it takes a minute there)."""
    model_dir, roots = trained
    spec = VariantSpec("int8", "ptq", "train", calibration_samples=16)
    bundle = run_to_end(export_variant_job(model_dir, spec, tmp_path / spec.name, roots))
    images = np.stack([np.asarray(Image.open(path).convert("RGB"))
                       for path in sorted((roots[0] / "test").glob("*/*.png"))])
    np.save(tmp_path / "images.npy", images)
    native, _ = open_runtime(bundle, "onnxruntime").predict(images)
    emulated = json.loads(no_vnni.run_snippet(
        "import json, numpy; from core.runtime import open_runtime; "
        f"runtime = open_runtime({str(bundle)!r}, 'onnxruntime'); "
        f"scores, _ = runtime.predict(numpy.load({str(tmp_path / 'images.npy')!r})); "
        "print(json.dumps(scores.tolist()))"))
    np.testing.assert_allclose(emulated, native, rtol=0.02)
