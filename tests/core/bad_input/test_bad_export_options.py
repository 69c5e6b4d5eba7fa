"""`export` options that contradict each other or the model: refused before any graph is made, naming the
options, and no bundle written."""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_testkit import error_line, run_cli

CONTRADICTIONS = {
    "qat-for-patchcore": (["--precision", "int8", "--method", "qat"],
                          ["--method qat needs a trained network", "patchcore", "use --method ptq"]),
    "ptq-for-fp16": (["--precision", "fp16", "--method", "ptq"], ["--method ptq is for --precision int8 only"]),
    "qat-for-fp32": (["--method", "qat"], ["--method qat is for --precision int8 only", "--precision fp32"]),
    "calibration-for-fp32": (["--calibration", "train"], ["--calibration is for INT8 PTQ only", "FP32"]),
    "calibration-samples-for-fp16": (["--precision", "fp16", "--calibration-samples", "32"],
                                     ["--calibration-samples is for INT8 PTQ only", "FP16"]),
    "range-method-for-qat": (["--precision", "int8", "--method", "qat", "--range-method", "entropy"],
                             ["--range-method is for INT8 PTQ only", "INT8 QAT"]),
    "qat-epochs-for-ptq": (["--precision", "int8", "--qat-epochs", "3"], ["--qat-epochs is for INT8 QAT only",
                                                                         "INT8 PTQ"]),
}


@pytest.mark.parametrize("case", CONTRADICTIONS)
def test_contradictory_options_are_refused(tiny_model: Path, tmp_path: Path, case: str) -> None:
    options, fragments = CONTRADICTIONS[case]
    out = tmp_path / "bundle"
    error_line(run_cli("export", "--model", tiny_model, *options, "--out", out), *fragments)
    assert not out.exists()


UNKNOWN = {
    "precision": (["--precision", "int4"], "argument --precision: invalid choice: 'int4'"),
    "target": (["--target", "tensorrt7"], "argument --target: invalid choice: 'tensorrt7'"),
    "calibration": (["--precision", "int8", "--calibration", "imagenet"], "argument --calibration: invalid choice"),
    "range-method": (["--precision", "int8", "--range-method", "kl"], "argument --range-method: invalid choice: 'kl'"),
    "method": (["--precision", "int8", "--method", "awq"], "argument --method: invalid choice: 'awq'"),
}


@pytest.mark.parametrize("case", UNKNOWN)
def test_unknown_choice_is_refused_by_argparse(tiny_model: Path, tmp_path: Path, case: str) -> None:
    options, fragment = UNKNOWN[case]
    out = tmp_path / "bundle"
    error_line(run_cli("export", "--model", tiny_model, *options, "--out", out), fragment, "choose from")
    assert not out.exists()


def test_compare_only_names_an_unknown_variant(tiny_model: Path, tmp_path: Path, category: Path) -> None:
    """A misspelt variant would otherwise compare nothing, silently, after loading everything."""
    error_line(run_cli("compare", "--model", tiny_model, "--data", category, "--only", "fp32-cpu", "int8-qat-cpu",
                       "--out", tmp_path / "variants"),
               "--only: no variant named int8-qat-cpu", "its variants: fp32-cpu")
    assert not (tmp_path / "variants").exists()
