"""Exporters: they write artefacts (ONNX, FP16 and INT8 graphs, deployment bundles); core.runtime loads them."""

from __future__ import annotations

from pathlib import Path


def bundle_from_model(model_dir: Path, out_dir: Path, precision: str) -> Path:
    """Export a model directory as a TensorRT-ready deployment bundle (see core.export.variants)."""
    from core.export.variants import bundle_from_model as export

    return export(model_dir, out_dir, precision)
