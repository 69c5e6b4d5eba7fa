"""`compare_job`: variants exported, evaluated, timed and weighed, with one progress bar's worth of records."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import Cancelled
from core.export.comparison import compare_job
from core.export.variants import VariantSpec
from core.jobs import CancelToken, Progress, run_to_end
from core.methods.config import ModelConfig
from core.training import train_job

SPECS = [VariantSpec("fp32"), VariantSpec("int8", "ptq", "random-normal", "cpu", calibration_samples=4)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    from tests.conftest import make_mvtec_category

    root = tmp_path_factory.mktemp("comparison")
    data = [make_mvtec_category(root / "data", "stripes", seed=1)]
    config = ModelConfig(method="patchcore", image_size=64)
    return run_to_end(train_job(config, data, root / "model", weights="random")).model_dir, data


def test_compare_job_measures_each_variant(trained: tuple[Path, list[Path]], tmp_path: Path) -> None:
    model_dir, data = trained
    seen: list[Progress] = []
    table = run_to_end(compare_job(model_dir, SPECS, data, tmp_path / "out"), seen.append)

    assert list(table["variants"]) == ["fp32-cpu", "int8-ptq-random-normal-cpu"]
    fp32, int8 = table["variants"]["fp32-cpu"], table["variants"]["int8-ptq-random-normal-cpu"]
    assert (int8["precision"], int8["method"], int8["calibration"], int8["target"]) == \
        ("int8", "ptq", "random-normal", "cpu")
    assert (fp32["precision"], fp32["method"], fp32["calibration"]) == ("fp32", "none", None)
    for row in (fp32, int8):
        assert set(row["mean"]) == {"image_auroc", "pixel_auroc", "pixel_f1_max"}
        assert 0.0 <= row["mean"]["image_auroc"] <= 1.0 and 0.0 <= row["mean"]["pixel_auroc"] <= 1.0
        assert set(row["categories"]) == {"stripes"}
        assert row["latency_ms_median"] > 0
        assert row["file_bytes"] == (Path(row["bundle"]) / "model.onnx").stat().st_size
        assert Path(row["bundle"]) == (tmp_path / "out" / ("fp32-cpu" if row is fp32 else
                                                            "int8-ptq-random-normal-cpu")).absolute()
    assert int8["file_bytes"] < 0.5 * fp32["file_bytes"]
    assert fp32["fp32_drift"]["max_relative_score_drift"] == pytest.approx(0.0, abs=1e-5)
    assert int8["fp32_drift"]["max_relative_score_drift"] > 0

    assert {record.stage for record in seen} == {"compare"} and all(record.total == 2 for record in seen)
    steps = [record.step for record in seen]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 2
    messages = [record.message for record in seen]
    assert any(message.startswith("int8-ptq-random-normal-cpu: calibrate") for message in messages)
    assert any("latency" in message for message in messages)


def test_compare_job_stops_when_cancelled(trained: tuple[Path, list[Path]], tmp_path: Path) -> None:
    model_dir, data = trained
    token = CancelToken()
    job = compare_job(model_dir, list(reversed(SPECS)), data, tmp_path / "out", token)
    with pytest.raises(Cancelled):
        for record in job:
            if "calibrat" in record.message:
                token.cancel()
    assert not (tmp_path / "out" / "int8-ptq-random-normal-cpu").exists()
    assert not (tmp_path / "out" / "fp32-cpu").exists()


def test_the_printed_table_keeps_long_variant_names_apart_from_the_category() -> None:
    from core.commands.compare import format_comparison

    row = {"mean": {"image_auroc": 0.9, "pixel_auroc": 0.8, "pixel_f1_max": 0.5},
           "categories": {"bottle": {"image_auroc": 0.9, "pixel_auroc": 0.8, "pixel_f1_max": 0.5}},
           "latency_ms_median": 12.0, "file_bytes": 4_200_000}
    table = format_comparison({"fp32-cpu": row, "int8-ptq-random-normal-tensorrt10": row})
    assert "int8-ptq-random-normal-tensorrt10  bottle" in table
