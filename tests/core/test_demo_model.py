"""The shipped demo model: it verifies, it is what the station starts on, and its graph and weights agree."""

from __future__ import annotations

import numpy as np

from core.data.demo import ensure_demo_dataset
from core.demo_model import DEMO_CONFIG, SHIPPED_DEMO_MODEL, usable_demo_model
from core.onnx_export import parity_error
from core.model_store import ONNX_GRAPH, load_model


def test_the_shipped_demo_model_is_the_one_used() -> None:
    assert usable_demo_model() == SHIPPED_DEMO_MODEL


def test_the_shipped_demo_model_has_the_demo_configuration() -> None:
    model = load_model(SHIPPED_DEMO_MODEL)
    assert (model.config.method, model.config.backbone, model.config.image_size) == (
        DEMO_CONFIG.method, DEMO_CONFIG.backbone, DEMO_CONFIG.image_size)
    assert model.categories == [path.name for path in ensure_demo_dataset()]


def test_the_shipped_graph_matches_the_shipped_weights() -> None:
    """The live view runs the graph and training code the weights: they must agree."""
    model = load_model(SHIPPED_DEMO_MODEL)
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 3, model.image_size, model.image_size))
    score_error, map_error = parity_error(model.network, SHIPPED_DEMO_MODEL / ONNX_GRAPH, pixels)
    assert max(score_error, map_error) < 1e-3
