"""Model directories and bundles as bad input, through the real command line (`core.cli.main`, what
`python -m core` runs): each is refused with a non-zero exit and one line naming the file, without a traceback,
and nothing is modified or created."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.cli import main
from core.jobs import run_to_end
from core.methods.config import ModelConfig
from core.methods.patchcore.settings import PatchcoreSettings
from core.training import train_job
from tests.conftest import make_mvtec_category

COMMANDS = ("evaluate", "export", "predict", "inspect", "deploy")
ACCEPTS_BUNDLES = ("evaluate", "inspect", "deploy")
LOADS_WEIGHTS = ("evaluate", "predict")  # PyTorch; the others run or copy the ONNX graph


@dataclass(frozen=True)
class Originals:
    data: Path
    model: Path
    bundle: Path


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> Originals:
    """One tiny real model (PatchCore, 32 px, random weights: seconds) and its FP32 bundle, copied per test."""
    root = tmp_path_factory.mktemp("originals")
    data = make_mvtec_category(root / "data", "stripes", size=32, train=6, good=2, bad=2, seed=1)
    config = ModelConfig(method="patchcore", image_size=32, settings=PatchcoreSettings(coreset_ratio=0.2))
    model = run_to_end(train_job(config, [data], root / "model", weights="random")).model_dir
    assert main(["export", "--model", str(model), "--out", str(root / "bundle")]) == 0
    return Originals(data, model, root / "bundle")


# --- damage: each takes a fresh copy of the model (or bundle) and returns the path to give --model --------------

def _flip_last_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[-1] ^= 0xFF
    file.write_bytes(bytes(data))


def _edit_manifest(directory: Path, edit: Callable[[dict], object]) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    edit(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def _replace_consistently(directory: Path, name: str, content: bytes) -> None:
    """Replace a file and update its hash in the manifest: damage that verification alone cannot see."""
    (directory / name).write_bytes(content)
    _edit_manifest(directory, lambda m: m["files"].__setitem__(name, hashlib.sha256(content).hexdigest()))


def _missing(d: Path) -> Path:
    shutil.rmtree(d)
    return d


def _file(d: Path) -> Path:
    return d / "weights.safetensors"


def _empty(d: Path) -> Path:
    shutil.rmtree(d)
    d.mkdir()
    return d


def _without(name: str) -> Callable[[Path], Path]:
    def damage(d: Path) -> Path:
        (d / name).unlink()
        return d
    return damage


def _manifest_text(text: bytes) -> Callable[[Path], Path]:
    def damage(d: Path) -> Path:
        (d / "manifest.json").write_bytes(text)
        return d
    return damage


def _manifest_edit(edit: Callable[[dict], object]) -> Callable[[Path], Path]:
    def damage(d: Path) -> Path:
        _edit_manifest(d, edit)
        return d
    return damage


def _tampered(name: str) -> Callable[[Path], Path]:
    def damage(d: Path) -> Path:
        _flip_last_byte(d / name)
        return d
    return damage


def _not_safetensors(d: Path) -> Path:
    _replace_consistently(d, "weights.safetensors", b"\x80\x04 a pickle, or anything else that is not safetensors")
    return d


def _other_weights(d: Path) -> Path:
    other = d.parent / "other.safetensors"
    save_file({"unexpected": torch.zeros(3)}, str(other))
    _replace_consistently(d, "weights.safetensors", other.read_bytes())
    return d


def _garbage_graph(d: Path) -> Path:
    _replace_consistently(d, "model.onnx", b"not an ONNX protobuf at all")
    return d


@dataclass(frozen=True)
class Case:
    damage: Callable[[Path], Path]
    complaint: str  # in the error line, after the path it names
    names: str  # the file or folder the line must name, relative to the damaged copy ("" = the copy itself)
    commands: tuple[str, ...] = COMMANDS
    start: str = "model"  # what is copied and damaged: "model" or "bundle"


CASES = {
    "missing directory": Case(_missing, "(the path does not exist)", ""),
    "a file, not a directory": Case(_file, "(it is a file; give the folder)", "weights.safetensors"),
    "empty directory": Case(_empty, "(the folder is empty)", ""),
    "no manifest": Case(_without("manifest.json"), "(no manifest.json)", ""),
    "weights missing": Case(_without("weights.safetensors"), "listed in the manifest but missing",
                            "weights.safetensors"),
    "graph missing": Case(_without("model.onnx"), "listed in the manifest but missing", "model.onnx"),
    "garbled manifest JSON": Case(_manifest_text(b'{"format": "inspection-station-model", "files": {'),
                                  "not valid JSON", "manifest.json"),
    "manifest not text": Case(_manifest_text(b"\xff\xfe\x00garbage"), "not valid JSON (not even UTF-8 text)",
                              "manifest.json"),
    "manifest a JSON list": Case(_manifest_text(b"[1, 2, 3]"), "not a manifest (a JSON list, not an object)",
                                 "manifest.json"),
    "manifest of another program": Case(_manifest_text(b'{"name": "something else"}'),
                                        "not an Inspection Station", "manifest.json"),
    "older format version": Case(_manifest_edit(lambda m: m.update(format_version=0)),
                                 "format version 0 is not supported (this build reads 2) and cannot be migrated: "
                                 "train the model again", "manifest.json"),
    "unversioned manifest": Case(_manifest_edit(lambda m: m.pop("format_version")),
                                 "format version None is not supported", "manifest.json"),
    "newer format version": Case(_manifest_edit(lambda m: m.update(format_version=3)),
                                 "written by a newer version of Inspection Station", "manifest.json"),
    "config missing": Case(_manifest_edit(lambda m: m.pop("config")), "'config' is missing", "manifest.json"),
    "thresholds not numbers": Case(_manifest_edit(lambda m: m["thresholds"].update(image="high")),
                                   "'thresholds' image is 'high', not a number", "manifest.json"),
    "unknown method": Case(_manifest_edit(lambda m: m["config"].update(method="magic")),
                           "its 'config' does not describe a model", "manifest.json", LOADS_WEIGHTS),
    "tampered weights": Case(_tampered("weights.safetensors"), "changed since the model was saved",
                             "weights.safetensors"),
    "tampered graph": Case(_tampered("model.onnx"), "changed since the model was saved", "model.onnx"),
    "weights not safetensors": Case(_not_safetensors, "not a readable safetensors file", "weights.safetensors",
                                    LOADS_WEIGHTS),
    "weights of another network": Case(_other_weights, "the weights do not fit the manifest's patchcore",
                                       "weights.safetensors", LOADS_WEIGHTS),
    "graph not ONNX": Case(_garbage_graph, "ONNX Runtime cannot load this graph", "model.onnx", ("inspect",)),
    "graph not ONNX, exported": Case(_garbage_graph, "not a readable ONNX graph", "model.onnx", ("export",)),
    "bundle where a model is expected": Case(lambda d: d, "is a deployment bundle, not a model directory (an "
                                             "exported variant): give the model directory it was exported from",
                                             "", ("export", "predict"), start="bundle"),
    "tampered bundle": Case(_tampered("model.onnx"), "changed since the bundle was written", "model.onnx",
                            ACCEPTS_BUNDLES, start="bundle"),
    "bundle of a newer format": Case(_manifest_edit(lambda m: m.update(format_version=2)),
                                     "written by a newer version of Inspection Station", "manifest.json",
                                     ACCEPTS_BUNDLES, start="bundle"),
}


def _arguments(command: str, model: Path, originals: Originals, out: Path) -> list[str]:
    image = next((originals.data / "test" / "spot").glob("*.png"))
    return {
        "evaluate": ["evaluate", "--model", str(model), "--data", str(originals.data), "--json", str(out / "r.json")],
        "export": ["export", "--model", str(model), "--out", str(out / "bundle")],
        "predict": ["predict", "--model", str(model), str(image), "--out", str(out / "predictions")],
        "inspect": ["inspect", "--model", str(model), "--source", str(image), "--save-ng", str(out / "ng")],
        # Port 9 (discard) is closed here: a refusal must come before any connection is tried.
        "deploy": ["deploy", "--model", str(model), "--host", "127.0.0.1", "--port", "9", "--user", "nobody",
                   "--remote-dir", str(out / "device"), "--log-dir", str(out / "logs"), "--no-build"],
    }[command]


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every path below `root` (itself included) with its size, modification time and content hash."""
    if not root.exists():
        return {}
    paths = [root, *root.rglob("*")] if root.is_dir() else [root]
    return {str(path): (path.lstat().st_size, path.lstat().st_mtime_ns,
                        hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "")
            for path in paths}


_RUNS = [(case, command) for case, spec in CASES.items() for command in spec.commands]


@pytest.mark.parametrize("case, command", _RUNS, ids=[f"{case}-{command}" for case, command in _RUNS])
def test_bad_model_directory_is_refused_in_one_line(originals: Originals, tmp_path: Path, case: str, command: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    spec = CASES[case]
    copy = tmp_path / "given"
    shutil.copytree(originals.model if spec.start == "model" else originals.bundle, copy)
    target = spec.damage(copy)
    before = _snapshot(copy)
    out = tmp_path / "out"
    status = main(_arguments(command, target, originals, out))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    named = copy / spec.names if spec.names else copy
    assert status != 0, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"{named}: " in lines[0] or f"{named} " in lines[0], lines[0]
    assert spec.complaint in lines[0], lines[0]
    assert "Traceback" not in err
    assert _snapshot(copy) == before  # the given directory is untouched
    assert not out.exists()  # and nothing was written


def test_every_case_fails_as_a_process_too(originals: Originals, tmp_path: Path) -> None:
    """`python -m core` itself: exit status 2, the one line on stderr, no traceback (one case: it takes seconds)."""
    copy = tmp_path / "given"
    shutil.copytree(originals.model, copy)
    _flip_last_byte(copy / "weights.safetensors")
    done = subprocess.run([sys.executable, "-m", "core", "predict", "--model", str(copy), str(originals.data),
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip() == (f"error: {copy / 'weights.safetensors'}: changed since the model was saved "
                                   f"(sha256 does not match the manifest)")


def test_a_model_directory_where_the_device_expects_a_bundle(originals: Originals) -> None:
    """And back: the device's build script given a model directory says what it is (exit 2, bad bundle)."""
    script = Path(__file__).resolve().parents[3] / "core" / "deploy" / "device" / "build_engine.py"
    done = subprocess.run([sys.executable, str(script), "--bundle", str(originals.model), "--dry-run",
                           "--log", "/dev/null"], capture_output=True, text=True, timeout=60, cwd="/",
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert "not a deployment bundle (format 'inspection-station-model')" in done.stdout


def test_a_model_directory_where_tensorrt_needs_a_bundle(originals: Originals, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["evaluate", "--model", str(originals.model), "--data", str(originals.data), "--runtime",
                   "tensorrt", "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert status == 2 and err.strip() == (f"error: {originals.model}: TensorRT runs deployment bundles; export "
                                           f"one with `python -m core export`")
    assert not (tmp_path / "r.json").exists()
