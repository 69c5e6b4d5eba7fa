"""`python -m core refresh`: a model saved by older code gets its graph and thresholds rebuilt from its weights."""

from __future__ import annotations

import json

import numpy as np

from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.model_store import MANIFEST, ONNX_GRAPH, load_model, save_model
from core.model_manifest import Thresholds
from core.onnx_export import parity_error
from core.training import train_job
from tests.conftest import make_mvtec_category


def test_refresh_rebuilds_the_graph_and_the_thresholds_training_chose(tmp_path, capsys) -> None:
    category = make_mvtec_category(tmp_path / "data", "stripes", seed=1)
    trained = run_to_end(train_job(ModelConfig(method="patchcore", image_size=64), [category], tmp_path / "model",
                                   weights="random", threshold_folds=0)).model_dir  # held out, as models used to be
    chosen = load_model(trained).manifest.thresholds
    # What an older version left: the same weights, no graph and stale thresholds
    loaded = load_model(trained)
    stale = Thresholds(image=1.0, per_category={"stripes": 1.0}, heldout_score_max=1.0, map_low=0.0)
    save_model(loaded.network, loaded.config, tmp_path / "old", categories=["stripes"], thresholds=stale,
               data_roots=[category], export_graph=False)
    assert not (tmp_path / "old" / ONNX_GRAPH).exists()

    assert main(["refresh", "--model", str(tmp_path / "old")]) == 0
    assert "stripes         threshold 1 -> " in capsys.readouterr().out
    refreshed = load_model(tmp_path / "old")
    assert refreshed.manifest.thresholds.per_category["stripes"] == chosen.per_category["stripes"]
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 3, 64, 64))
    assert max(parity_error(refreshed.network, tmp_path / "old" / ONNX_GRAPH, pixels)) < 1e-3
    assert json.loads((tmp_path / "old" / MANIFEST).read_text())["files"]  # verified like any saved model


def test_a_model_with_out_of_fold_thresholds_is_not_refreshed(tmp_path, capsys) -> None:
    category = make_mvtec_category(tmp_path / "data", "stripes", seed=1)
    trained = run_to_end(train_job(ModelConfig(method="padim", image_size=64), [category], tmp_path / "model",
                                   weights="random", threshold_folds=2)).model_dir
    assert main(["refresh", "--model", str(trained)]) == 2
    assert "out-of-fold scores, which only training makes" in capsys.readouterr().err
