"""Bundles: what write_bundle records, how verify_bundle catches a changed or missing file, and what it refuses."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto

from core.bundle import (BUNDLE_FORMAT, DEVICE_SCRIPTS, MANIFEST, bundle_files, read_bundle_manifest, verify_bundle,
                         write_bundle)
from core.deploy.source import resolve_bundle
from core.errors import InputError
from core.files import sha256_of
from core.model_manifest import Normalisation, Thresholds
from deploy_testkit import NORMALISATION, SIZE, input_spec, make_bundle, make_graph


def _write(tmp_path: Path, graph: Path, **changes: object) -> Path:
    arguments = {"precision": "fp32", "input_spec": input_spec(), "thresholds": Thresholds(image=0.5),
                 "categories": ["bottle"], "normalisation": NORMALISATION}
    arguments.update(changes)
    return write_bundle(graph, tmp_path / "out", **arguments)


def test_int8_bundle_records_graph_facts_and_hashes(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, precision="int8")
    manifest = verify_bundle(bundle)
    written = json.loads((bundle / MANIFEST).read_text())
    assert written["format"] == BUNDLE_FORMAT and written["format_version"] == 1
    assert manifest.precision == "int8" and manifest.method == "stfpm"
    assert manifest.input == {**input_spec(), "shape": [-1, 3, SIZE, SIZE]} and manifest.image_size == SIZE
    assert manifest.graph == {"file": "model.onnx", "opset": 17, "qdq": True, "fp16_tensors": False}
    assert {o["name"]: (o["role"], o["shape"]) for o in manifest.outputs} == {
        "score": ("score", [-1]), "anomaly_map": ("anomaly_map", [-1, 1, SIZE, SIZE])}
    assert manifest.thresholds == Thresholds(image=0.5, map_low=0.1) and manifest.normalisation == NORMALISATION
    assert set(manifest.files) == {"model.onnx", *(f"device/{name}" for name in DEVICE_SCRIPTS)}
    assert {"build_engine.py", "trt_runtime.py", "live.py", "live_sources.py"} <= set(DEVICE_SCRIPTS)
    for name, digest in manifest.files.items():
        assert sha256_of(bundle / name) == digest
    assert bundle_files(manifest)[-1] == MANIFEST
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind
    # The graph in the bundle is the real thing: it runs.
    session = onnxruntime.InferenceSession(str(bundle / "model.onnx"))
    score, amap = session.run(["score", "anomaly_map"], {"image": np.zeros((2, 3, SIZE, SIZE), np.float32)})
    assert score.shape == (2,) and amap.shape == (2, 1, SIZE, SIZE)


def test_fp16_graph_is_flagged_typed(tmp_path: Path) -> None:
    manifest = verify_bundle(make_bundle(tmp_path, precision="fp16", fp16=True))
    assert manifest.graph["fp16_tensors"] is True and manifest.graph["qdq"] is False


def test_numpy_thresholds_are_stored_as_plain_json(tmp_path: Path) -> None:
    bundle = _write(tmp_path, make_graph(tmp_path / "g.onnx"), thresholds=Thresholds(image=np.float32(0.25)),
                    normalisation=Normalisation(mean=np.array([0.5, 0.5, 0.5]), std=NORMALISATION.std))
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert manifest["thresholds"] == {"image": 0.25, "per_category": {}}
    assert manifest["normalisation"]["mean"] == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("damage, complaint", [
    (lambda b: (b / "model.onnx").write_bytes(b"not the graph"), "model.onnx: changed since the bundle"),
    (lambda b: (b / "device" / "trt_runtime.py").unlink(), "trt_runtime.py: listed in the bundle manifest but missing"),
])
def test_verify_names_the_changed_or_missing_file(bundle: Path, damage, complaint: str) -> None:
    damage(bundle)
    with pytest.raises(InputError, match=complaint):
        verify_bundle(bundle)


def test_newer_format_version_is_refused_with_reason(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    (bundle / MANIFEST).write_text(json.dumps({**manifest, "format_version": 2}))
    with pytest.raises(InputError, match="written by a newer version"):
        read_bundle_manifest(bundle)


def test_unsafe_file_name_in_manifest_is_refused(bundle: Path) -> None:
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest["files"]["../../etc/passwd"] = "0" * 64
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="unsafe file name"):
        read_bundle_manifest(bundle)


@pytest.mark.parametrize("changes, graph_options, complaint", [
    ({"precision": "int8"}, {}, "int8 needs a Q/DQ"),
    ({"precision": "fp16"}, {"qdq": True}, "precision is int8, not fp16"),
    ({"input_spec": {**input_spec(), "name": "pixels"}}, {}, "inputs are \\['image'\\]"),
    ({"input_spec": {**input_spec(), "shape": [-1, 3, 64, 64]}}, {}, "has shape \\[-1, 3, 32, 32\\]"),
    ({"input_spec": input_spec("uint8")}, {}, "is float32 in the graph"),
    ({"precision": "bf16"}, {}, "not one of"),
])
def test_claims_that_contradict_the_graph_are_refused(tmp_path: Path, changes: dict, graph_options: dict,
                                                      complaint: str) -> None:
    graph = make_graph(tmp_path / "g.onnx", **graph_options)
    with pytest.raises(InputError, match=complaint):
        _write(tmp_path, graph, **changes)
    assert not (tmp_path / "out").exists()


def test_uint8_input_graph_is_accepted(tmp_path: Path) -> None:
    graph = make_graph(tmp_path / "g.onnx", input_dtype=TensorProto.UINT8)
    assert verify_bundle(_write(tmp_path, graph, input_spec=input_spec("uint8"))).input["dtype"] == "uint8"


def test_rewriting_replaces_a_bundle_but_never_another_folder(tmp_path: Path) -> None:
    graph = make_graph(tmp_path / "g.onnx")
    first = _write(tmp_path, graph, thresholds=Thresholds(image=1.0))
    second = _write(tmp_path, graph, thresholds=Thresholds(image=2.0))
    assert first == second and verify_bundle(second).thresholds == Thresholds(image=2.0)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a deployment bundle; refusing"):
        write_bundle(graph, precious, precision="fp32", input_spec=input_spec(), thresholds=Thresholds(),
                     categories=[], normalisation=NORMALISATION)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_extra_cannot_override_bundle_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="files"):
        _write(tmp_path, make_graph(tmp_path / "g.onnx"), extra={"files": {}})


def test_resolve_accepts_a_bundle_and_explains_a_model_it_cannot_export(bundle: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_bundle(bundle, precision="int8", work_dir=tmp_path) == bundle
    model = tmp_path / "model"
    model.mkdir()
    (model / MANIFEST).write_text(json.dumps({"format": "inspection-station-model", "format_version": 1}))
    monkeypatch.setitem(sys.modules, "core.export", None)  # as if core.export were not installed
    with pytest.raises(InputError, match="model directory, and this installation cannot export it"):
        resolve_bundle(model, precision="int8", work_dir=tmp_path)
    with pytest.raises(InputError, match="not a deployment bundle or model directory \\(the path does not exist"):
        resolve_bundle(tmp_path / "nowhere", precision="int8", work_dir=tmp_path)
