"""The device scripts keep to their bundle too. They run on the Jetson as copied into the bundle, without the
engine (Python 3.8, standard library; numpy for the runtime), so they are run here the same way: as the bundle's own
copies, in a fresh interpreter that cannot import `core`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_testkit import make_bundle

from core.artefact_dir import is_plain_name
from core.deploy.device.build_engine import EXIT_BAD_BUNDLE, EXIT_OK, BundleProblem, bundle_file

_ENV = {"PATH": "/usr/bin:/bin"}  # no PYTHONPATH: the engine is not importable


def _build(bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(bundle / "device" / "build_engine.py"), "--bundle", str(bundle),
                           "--dry-run", "--trt-version", "8.5.2"], cwd="/", env=_ENV, capture_output=True,
                          text=True, timeout=60)


def _set_graph_file(bundle: Path, name: str) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["graph"]["file"] = name
    (bundle / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    made = make_bundle(tmp_path)
    assert _build(made).returncode == EXIT_OK  # intact, it builds: each refusal below is the damage's doing
    return made


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    return secret


@pytest.mark.parametrize("name", ["../secret.onnx", "/etc/passwd", "device/../../secret.onnx"])
def test_build_refuses_a_graph_named_outside_the_bundle(bundle: Path, name: str) -> None:
    _set_graph_file(bundle, name)
    done = _build(bundle)
    assert done.returncode == EXIT_BAD_BUNDLE and f"unsafe file name {name!r}" in done.stdout, done.stdout
    assert "--onnx=" not in done.stdout  # no trtexec command was made


def test_build_refuses_a_graph_symlinked_outside(bundle: Path, outside: Path) -> None:
    (bundle / "model.onnx").unlink()
    (bundle / "model.onnx").symlink_to(outside)
    done = _build(bundle)
    assert done.returncode == EXIT_BAD_BUNDLE and "model.onnx: a symbolic link to" in done.stdout, done.stdout


@pytest.mark.parametrize("output", ["model.engine.partial", "engine.json", "model.engine"])
@pytest.mark.parametrize("points_inside", [False, True])
def test_build_never_writes_through_a_symlink(bundle: Path, outside: Path, output: str, points_inside: bool) -> None:
    target = bundle / "report.txt" if points_inside else outside  # inside, it would overwrite a bundle file
    target.write_text("keep me")
    (bundle / output).symlink_to(target)
    done = _build(bundle)
    assert done.returncode == EXIT_BAD_BUNDLE, done.stdout
    assert f"{output}: " in done.stdout
    assert ("refusing to write through it" if points_inside else "outside the bundle") in done.stdout
    assert target.read_text() == "keep me"


def test_build_log_symlink_is_not_appended_to(bundle: Path, outside: Path) -> None:
    (bundle / "build.log").unlink()
    (bundle / "build.log").symlink_to(outside)
    done = _build(bundle)
    assert done.returncode == EXIT_BAD_BUNDLE and "cannot write the build log" in done.stdout
    assert outside.read_text() == "keep me"


_RUNTIME = """
import sys, trt_runtime
try:
    trt_runtime.TrtRuntime(sys.argv[1])
except trt_runtime.RuntimeProblem as problem:
    print(problem)
"""


def _runtime(bundle: Path) -> str:
    """What the on-device runtime says about the bundle, imported as on the Jetson: from the bundle's device/."""
    done = subprocess.run([sys.executable, "-c", _RUNTIME, str(bundle)], cwd=bundle / "device",
                          env={**_ENV, "PYTHONPATH": str(bundle / "device")}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_runtime_refuses_a_manifest_or_engine_symlinked_outside(bundle: Path, outside: Path) -> None:
    assert "tensorrt Python module is not available" in _runtime(bundle)  # as far as it gets here, intact
    (bundle / "model.engine").symlink_to(outside)
    assert "model.engine: a symbolic link to" in _runtime(bundle)
    (bundle / "model.engine").unlink()
    elsewhere = outside.with_name("manifest.json")
    (bundle / "manifest.json").rename(elsewhere)
    (bundle / "manifest.json").symlink_to(elsewhere)
    assert "manifest.json: a symbolic link to" in _runtime(bundle)


@pytest.mark.parametrize("name", ["model.onnx", "device/build_engine.py", "../x", "/etc/passwd", "a/../b",
                                  "./a", "a//b", "", "a b", "a;touch x", "x\n", "C:\\x"])
def test_device_and_host_agree_on_plain_names(tmp_path: Path, name: str) -> None:
    """The device scripts cannot import the host's check, so they repeat it; the two must not drift apart."""
    try:
        bundle_file(str(tmp_path), name)
        device_accepts = True
    except BundleProblem:
        device_accepts = False
    assert device_accepts is is_plain_name(name)
