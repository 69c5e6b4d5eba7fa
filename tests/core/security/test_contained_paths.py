"""Paths from a manifest or a bundle never leave their directory: no `..`, no absolute paths, no symbolic links
pointing outside. Model directories and bundles here; the device scripts, which run on the Jetson without the
engine, in test_device_paths.py."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from deploy_testkit import NORMALISATION, input_spec, make_bundle, make_graph
from safetensors.torch import save_file

from core.artefact_dir import MODEL_FORMAT, is_plain_name
from core.bundle import MANIFEST, verify_bundle, write_bundle
from core.cli import main
from core.errors import InputError
from core.files import sha256_of
from core.model_manifest import Thresholds, read_manifest


def _model_dir(root: Path) -> Path:
    """The smallest directory read_manifest accepts (the checks under test come before any network is built)."""
    root.mkdir(parents=True)
    save_file({"w": torch.zeros(2)}, str(root / "weights.safetensors"))
    _write_manifest(root, {"format": MODEL_FORMAT, "format_version": 1, "method": "patchcore",
                           "backbone": "tf_efficientnet_lite0", "image_size": 32, "config": {},
                           "files": {"weights.safetensors": sha256_of(root / "weights.safetensors")}})
    return root


def _write_manifest(directory: Path, manifest: dict) -> None:
    (directory / MANIFEST).write_text(json.dumps(manifest))


def _edit_manifest(directory: Path, edit: Callable[[dict], None]) -> None:
    manifest = json.loads((directory / MANIFEST).read_text())
    edit(manifest)
    _write_manifest(directory, manifest)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every artefact directory, as an attacker would want read, copied or shipped."""
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the directory")
    return secret


def _list(name: str, file: Path) -> Callable[[Path], None]:
    """Damage: the manifest lists `name` with the hash of `file`, so only the path check can catch it."""
    return lambda directory: _edit_manifest(directory, lambda m: m["files"].__setitem__(name, sha256_of(file)))


def _symlink_weights(directory: Path, target: Path) -> None:
    (directory / "weights.safetensors").unlink()
    (directory / "weights.safetensors").symlink_to(target)
    _edit_manifest(directory, lambda m: m["files"].__setitem__("weights.safetensors", sha256_of(target)))


def _symlink_folder(directory: Path, target: Path) -> None:
    (directory / "extra").symlink_to(target.parent)
    _list(f"extra/{target.name}", target)(directory)


def _symlink_manifest(directory: Path, target: Path) -> None:
    elsewhere = target.parent / "elsewhere.json"
    shutil.move(directory / MANIFEST, elsewhere)
    (directory / MANIFEST).symlink_to(elsewhere)


MODEL_ESCAPES = {
    "dot-dot": (lambda d, o: _list("../secret.txt", o)(d), "unsafe file name '../secret.txt'"),
    "absolute": (lambda d, o: _list(str(o), o)(d), "unsafe file name '/"),
    "dot-dot inside a path": (lambda d, o: _list("sub/../../secret.txt", o)(d), "unsafe file name 'sub/../"),
    "weights symlinked outside": (_symlink_weights, "weights.safetensors: a symbolic link to"),
    "folder symlinked outside": (_symlink_folder, "extra/secret.txt: a symbolic link to"),
    "manifest symlinked outside": (_symlink_manifest, "manifest.json: a symbolic link to"),
}


@pytest.mark.parametrize("case", MODEL_ESCAPES)
def test_model_directory_entries_cannot_leave_it(tmp_path: Path, outside: Path, case: str) -> None:
    model = _model_dir(tmp_path / "model")
    read_manifest(model)  # the intact directory is accepted: the refusal below is the damage's doing
    damage, complaint = MODEL_ESCAPES[case]
    damage(model, outside)
    with pytest.raises(InputError, match=_literal(complaint)):
        read_manifest(model)


def test_a_symlink_that_stays_inside_is_fine(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "model")
    (model / "store").mkdir()
    shutil.move(model / "weights.safetensors", model / "store" / "w.safetensors")
    (model / "weights.safetensors").symlink_to(Path("store") / "w.safetensors")
    assert read_manifest(model).files == {"weights.safetensors": sha256_of(model / "store" / "w.safetensors")}


def test_an_unlisted_graph_is_never_used_unverified(tmp_path: Path) -> None:
    model = _model_dir(tmp_path / "model")
    make_graph(model / "model.onnx")
    with pytest.raises(InputError, match="model.onnx: not listed in the manifest, so it cannot be verified"):
        read_manifest(model)


def _symlink_graph(bundle: Path, target: Path) -> None:
    copy = target.parent / "graph-copy.onnx"
    shutil.move(bundle / "model.onnx", copy)
    (bundle / "model.onnx").symlink_to(copy)


def _symlink_device_folder(bundle: Path, target: Path) -> None:
    copy = target.parent / "device-copy"
    shutil.move(bundle / "device", copy)
    (bundle / "device").symlink_to(copy)


BUNDLE_ESCAPES = {
    "dot-dot": (lambda b, o: _list("../secret.txt", o)(b), "unsafe file name '../secret.txt'"),
    "absolute": (lambda b, o: _list(str(o), o)(b), "unsafe file name '/"),
    "graph symlinked outside": (_symlink_graph, "model.onnx: a symbolic link to"),
    "device folder symlinked outside": (_symlink_device_folder, "device/build_engine.py: a symbolic link to"),
    "graph file outside": (lambda b, o: _edit_manifest(b, lambda m: m["graph"].__setitem__("file", "../x.onnx")),
                           "lists no model.onnx as its graph"),
}


@pytest.mark.parametrize("case", BUNDLE_ESCAPES)
def test_bundle_entries_cannot_leave_it(tmp_path: Path, outside: Path, case: str) -> None:
    bundle = make_bundle(tmp_path)
    verify_bundle(bundle)
    damage, complaint = BUNDLE_ESCAPES[case]
    damage(bundle, outside)
    with pytest.raises(InputError, match=_literal(complaint)):
        verify_bundle(bundle)


def test_a_bundle_engine_symlinked_outside_is_never_opened(tmp_path: Path, outside: Path) -> None:
    from core.runtime import open_runtime

    bundle = make_bundle(tmp_path)
    assert open_runtime(bundle).name.startswith("onnxruntime")
    (bundle / "model.engine").symlink_to(outside)  # the engine is built on the device: not in the manifest
    with pytest.raises(InputError, match="model.engine: a symbolic link to .* outside"):
        open_runtime(bundle)


def test_external_weights_symlinked_outside_are_not_copied_into_a_bundle(tmp_path: Path, outside: Path) -> None:
    import onnx

    folder = tmp_path / "export"
    folder.mkdir()
    graph = make_graph(folder / "g.onnx")
    model = onnx.load(str(graph))
    onnx.save(model, str(graph), save_as_external_data=True, all_tensors_to_one_file=True, location="g.data",
              size_threshold=0)
    shutil.move(folder / "g.data", tmp_path / "g.data")
    (folder / "g.data").symlink_to(tmp_path / "g.data")
    with pytest.raises(InputError, match="g.data: a symbolic link to .* outside"):
        write_bundle(graph, tmp_path / "bundle", precision="fp32", input_spec=input_spec(),
                     thresholds=Thresholds(image=0.5), categories=["x"], normalisation=NORMALISATION)
    assert not (tmp_path / "bundle").exists()


def test_deploy_refuses_an_escaping_bundle_before_connecting(tmp_path: Path, outside: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bundle = make_bundle(tmp_path)
    _symlink_graph(bundle, outside)
    status = main(["deploy", "--model", str(bundle), "--host", "127.0.0.1", "--port", "9", "--user", "nobody",
                   "--remote-dir", str(tmp_path / "device"), "--log-dir", str(tmp_path / "logs")])
    err = capsys.readouterr().err
    assert status == 1 and f"{bundle / 'model.onnx'}: a symbolic link to" in err and "Traceback" not in err
    assert "127.0.0.1" not in err  # refused here, before any connection was tried
    assert not (tmp_path / "device").exists()


@pytest.mark.parametrize("name, plain", [
    ("model.onnx", True), ("device/build_engine.py", True), ("a-b_c.1", True),
    ("../x", False), ("/etc/passwd", False), ("a/../b", False), ("./a", False), ("a//b", False), ("", False),
    ("a b", False), ("a;touch x", False), ("x\n", False), ("C:\\x", False), (None, False), (3, False),
])
def test_plain_names(name: object, plain: bool) -> None:
    assert is_plain_name(name) is plain


def _literal(text: str) -> str:
    return re.escape(text)
