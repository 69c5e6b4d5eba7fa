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
    # every test image's verdict, and those that INT8 changes against FP32 (recomputed here from the verdicts)
    test_images = {str(sample) for sample in (data[0] / "test").rglob("*.png")}
    assert set(fp32["verdicts"]) == set(int8["verdicts"]) == test_images
    changed = sorted(path for path in test_images if fp32["verdicts"][path]["ng"] != int8["verdicts"][path]["ng"])
    assert int8["verdict_flips"]["against"] == "fp32-cpu" and "verdict_flips" not in fp32
    assert int8["verdict_flips"]["count"] == len(changed)
    assert sorted(flip["path"] for flip in int8["verdict_flips"]["images"]) == changed

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


def test_verdict_flips_list_the_images_whose_verdict_changes_against_fp32() -> None:
    from core.commands.compare import format_flips
    from core.export.comparison import add_verdict_flips

    def verdicts(*ng: bool) -> dict:
        return {f"/d/{index}.png": {"category": "bottle", "score": 0.5 + index, "ng": value}
                for index, value in enumerate(ng)}

    variants = {"fp32-cpu": {"precision": "fp32", "verdicts": verdicts(False, True, False)},
                "int8-ptq-train-cpu": {"precision": "int8", "verdicts": verdicts(True, True, False)},
                "fp16-cpu": {"precision": "fp16", "verdicts": verdicts(False, True, False)}}
    add_verdict_flips(variants)
    flips = variants["int8-ptq-train-cpu"]["verdict_flips"]
    assert flips["count"] == 1 and flips["images"][0]["path"] == "/d/0.png"
    assert (flips["images"][0]["fp32"], flips["images"][0]["variant"]) == ("OK", "NG")
    assert variants["fp16-cpu"]["verdict_flips"]["count"] == 0
    printed = format_flips(variants)
    assert "int8-ptq-train-cpu: 1 test image changes verdict against fp32-cpu" in printed and "/d/0.png (bottle): FP32 OK 0.5 -> NG 0.5" in printed
    without_fp32 = {"int8": {"precision": "int8", "verdicts": verdicts(True)}}
    add_verdict_flips(without_fp32)
    assert "verdict_flips" not in without_fp32["int8"]


def test_the_printed_table_keeps_long_variant_names_apart_from_the_category() -> None:
    from core.commands.compare import format_comparison

    row = {"mean": {"image_auroc": 0.9, "pixel_auroc": 0.8, "pixel_f1_max": 0.5},
           "categories": {"bottle": {"image_auroc": 0.9, "pixel_auroc": 0.8, "pixel_f1_max": 0.5}},
           "latency_ms_median": 12.0, "file_bytes": 4_200_000}
    table = format_comparison({"fp32-cpu": row, "int8-ptq-random-normal-tensorrt10": row})
    assert "int8-ptq-random-normal-tensorrt10  bottle" in table
