"""The command line as other tools call it: train -> evaluate -> predict, and clear errors."""

from __future__ import annotations

import csv
import json

from core.cli import main


def test_train_evaluate_predict(tiny_categories, tmp_path, capsys) -> None:
    model = tmp_path / "model"
    data = [str(path) for path in tiny_categories]
    assert main(["train", "--data", *data, "--method", "patchcore", "--image-size", "64", "--coreset-ratio", "0.2",
                 "--weights", "random", "--target-frr", "0.05", "--out", str(model)]) == 0
    assert (model / "manifest.json").is_file()
    statement = ("chosen from 12 normal images (out of fold, 10 folds): the false-reject rate is below 17.5 % with "
                 "90 % confidence (target 5 %)")
    trained = capsys.readouterr().out
    assert f"{statement}" in trained and "threshold stripes " in trained and "threshold waves " in trained

    report = tmp_path / "report.json"
    assert main(["evaluate", "--model", str(model), "--data", *data, "--json", str(report)]) == 0
    results = json.loads(report.read_text())
    assert set(results["categories"]) == {"stripes", "waves"}
    for metrics in results["categories"].values():
        assert {"image_auroc", "pixel_auroc", "pixel_f1_max", "aupro", "n_images"} <= set(metrics)
        assert metrics["n_images"] == 6
    assert "mean" in results
    table = capsys.readouterr().out
    assert "stripes" in table and "mean" in table and statement in table

    out = tmp_path / "predictions"
    assert main(["predict", "--model", str(model), str(tiny_categories[0] / "test"), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "scores.csv").open()))
    assert len(rows) == 6 and {row["verdict"] for row in rows} <= {"OK", "NG"}
    assert all((out / row["overlay"].split("/")[-1]).is_file() for row in rows)


def test_bad_input_is_a_message_not_a_traceback(tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--data", str(empty), "--method", "patchcore", "--out", str(tmp_path / "m")]) == 2
    error = capsys.readouterr().err
    assert str(empty) in error and "Traceback" not in error
    assert main(["evaluate", "--model", str(tmp_path / "nowhere"), "--data", str(empty)]) == 2
    assert "not a model directory" in capsys.readouterr().err
