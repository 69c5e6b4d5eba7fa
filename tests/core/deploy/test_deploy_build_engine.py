"""The device-side build script, as far as a machine without TensorRT allows: version parsing, the trtexec flags per
TensorRT version and precision, and real runs of the script against fake trtexec executables; plus the rule that
both device scripts stay Python 3.8 and standard library (numpy for the runtime)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_testkit import fake_trtexec, recorded_build_arguments

from core.bundle import DEVICE_SCRIPTS
from core.deploy.device import build_engine
from core.deploy.device.build_engine import (EXIT_BUILD_FAILED, EXIT_NO_TRTEXEC, EXIT_OK, EXIT_TIMEOUT,
                                             EXIT_UNSUPPORTED, BundleProblem, check_supported, find_trtexec,
                                             parse_trt_version, precision_flags, shape_flags, trtexec_command)

DEVICE_DIR = Path(build_engine.__file__).parent
SCRIPT = DEVICE_DIR / "build_engine.py"


@pytest.mark.parametrize("text, expected", [
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # /usr/src/tensorrt/bin/trtexec --help", (8, 5, 2)),
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec", (8, 6, 1)),
    ("&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec --help", (10, 3, 0)),
    ("[TensorRT v101100]", (10, 11, 0)),
    ("8.5.2.2", (8, 5, 2)),                       # tensorrt.__version__ on JetPack 5.1
    ("10.3.0.30", (10, 3, 0)),                    # tensorrt.__version__ on JetPack 6.1
    ("8.5.2-1+cuda11.4", (8, 5, 2)),              # dpkg libnvinfer8
    ("10.3.0.30-1+cuda12.5", (10, 3, 0)),         # dpkg libnvinfer10
    ("trtexec: command not found", None),
    ("", None),
])
def test_parse_trt_version(text: str, expected: tuple | None) -> None:
    assert parse_trt_version(text) == expected


def _manifest(precision: str, qdq: bool = False, fp16_tensors: bool = False, dtype: str = "float32",
              batch: int = -1, opset: int = 17) -> dict:
    return {"precision": precision, "graph": {"qdq": qdq, "fp16_tensors": fp16_tensors, "opset": opset},
            "input": {"name": "image", "shape": [batch, 3, 256, 256], "dtype": dtype, "layout": "NCHW"}}


@pytest.mark.parametrize("version, manifest, flags", [
    ((8, 5, 2), _manifest("int8", qdq=True), ["--int8", "--fp16"]),
    ((8, 5, 2), _manifest("fp16"), ["--fp16"]),
    ((8, 5, 2), _manifest("fp16", fp16_tensors=True), ["--fp16"]),
    ((8, 5, 2), _manifest("fp32"), []),
    ((10, 3, 0), _manifest("int8", qdq=True), ["--stronglyTyped"]),
    ((10, 3, 0), _manifest("fp16", fp16_tensors=True), ["--stronglyTyped"]),
    ((10, 3, 0), _manifest("fp16"), ["--fp16"]),
    ((10, 3, 0), _manifest("fp32"), []),
])
def test_precision_flags_per_tensorrt_version(version: tuple, manifest: dict, flags: list) -> None:
    assert precision_flags(version, manifest) == flags


def test_dynamic_batch_gets_a_profile_and_static_input_none() -> None:
    assert shape_flags(_manifest("fp32")["input"], 2, 8) == [
        "--minShapes=image:1x3x256x256", "--optShapes=image:2x3x256x256", "--maxShapes=image:8x3x256x256"]
    assert shape_flags(_manifest("fp32", batch=1)["input"], 1, 4) == []


def test_whole_command_for_an_int8_bundle_on_tensorrt_8() -> None:
    command = trtexec_command("/usr/src/tensorrt/bin/trtexec", (8, 5, 2), _manifest("int8", qdq=True),
                              "/b/model.onnx", "/b/model.engine.partial", 1, 4)
    assert command == ["/usr/src/tensorrt/bin/trtexec", "--onnx=/b/model.onnx",
                       "--saveEngine=/b/model.engine.partial", "--int8", "--fp16",
                       "--minShapes=image:1x3x256x256", "--optShapes=image:1x3x256x256",
                       "--maxShapes=image:4x3x256x256", "--iterations=10", "--warmUp=0", "--duration=0"]


@pytest.mark.parametrize("version, manifest, complaint", [
    ((8, 5, 2), _manifest("fp32", dtype="uint8"), "cannot take a uint8 network input"),
    ((8, 5, 2), _manifest("fp32", opset=18), "opset 18, TensorRT 8.5 parses up to 17"),
    ((7, 1, 3), _manifest("fp32"), "too old"),
])
def test_bundles_a_tensorrt_cannot_parse_are_refused_with_reason(version: tuple, manifest: dict,
                                                                  complaint: str) -> None:
    with pytest.raises(BundleProblem, match=complaint):
        check_supported(version, manifest)


def test_uint8_and_opset_18_are_fine_on_tensorrt_10() -> None:
    check_supported((10, 3, 0), _manifest("fp32", dtype="uint8", opset=18))


def test_find_trtexec_prefers_env_then_path(tmp_path: Path) -> None:
    tool = fake_trtexec(tmp_path / "bin", "v8502")
    assert find_trtexec({"PATH": str(tool.parent)}) == str(tool)
    assert find_trtexec({"PATH": "/nonexistent", "TRTEXEC": str(tool)}) == str(tool)
    assert find_trtexec({"PATH": "/nonexistent"}) is None  # and no /usr/src/tensorrt/bin/trtexec here


def _run_script(bundle: Path, *args: str, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess:
    """Run the script as the device would: a separate python3 process, from the bundle, with a chosen PATH."""
    env = {"PATH": path, "HOME": str(bundle)}
    return subprocess.run([sys.executable, "device/build_engine.py", "--bundle", ".", *args], cwd=bundle, env=env,
                          capture_output=True, text=True, timeout=60)


def test_dry_run_prints_the_command_without_trtexec(bundle: Path) -> None:
    done = _run_script(bundle, "--dry-run", "--trt-version", "10.3.0")
    assert done.returncode == EXIT_OK, done.stdout
    command = next(line for line in done.stdout.splitlines() if line.startswith("command: "))
    assert "--stronglyTyped" in command and "--minShapes=image:1x3x32x32" in command
    assert not (bundle / "model.engine").exists()


def test_no_trtexec_exits_3_and_logs_it(bundle: Path) -> None:
    done = _run_script(bundle)
    assert done.returncode == EXIT_NO_TRTEXEC
    assert "trtexec not found" in done.stdout and "trtexec not found" in (bundle / "build.log").read_text()


@pytest.mark.parametrize("banner, expected, absent", [
    ("v8502", ["--int8", "--fp16"], ["--stronglyTyped"]),
    ("v100300", ["--stronglyTyped"], ["--int8", "--fp16"]),
])
def test_build_with_fake_trtexec_detects_version_from_banner(bundle: Path, tmp_path: Path, banner: str,
                                                             expected: list, absent: list) -> None:
    tool = fake_trtexec(tmp_path / "bin", banner)
    done = _run_script(bundle, "--max-batch", "8", path=f"{tool.parent}:/usr/bin:/bin")
    assert done.returncode == EXIT_OK, done.stdout
    build_args = recorded_build_arguments(tool.parent)
    assert all(flag in build_args for flag in expected) and not set(absent) & set(build_args)
    assert "--maxShapes=image:8x3x32x32" in build_args
    assert (bundle / "model.engine").read_bytes() == b"engine bytes"
    info = json.loads((bundle / "engine.json").read_text())
    assert info["tensorrt"] == ("8.5.2" if banner == "v8502" else "10.3.0") and info["command"] == build_args
    assert build_engine.RESULT_PREFIX.strip() in done.stdout
    log = (bundle / "build.log").read_text()
    assert f"TensorRT {info['tensorrt']} (trtexec banner)" in log and "&&&& PASSED" in log  # trtexec's own output


def test_failed_build_exits_4_and_leaves_no_engine(bundle: Path, tmp_path: Path) -> None:
    tool = fake_trtexec(tmp_path / "bin", "v8502", status=1)
    done = _run_script(bundle, path=f"{tool.parent}:/usr/bin:/bin")
    assert done.returncode == EXIT_BUILD_FAILED
    assert "fake parser failure" in (bundle / "build.log").read_text()
    assert not (bundle / "model.engine").exists() and not (bundle / "model.engine.partial").exists()


def test_slow_build_is_stopped_at_the_timeout(bundle: Path, tmp_path: Path) -> None:
    tool = fake_trtexec(tmp_path / "bin", "v8502", sleep=30)
    done = _run_script(bundle, "--timeout", "1", "--trt-version", "8.5.2", path=f"{tool.parent}:/usr/bin:/bin")
    assert done.returncode == EXIT_TIMEOUT and "did not finish within 1 s" in done.stdout


def test_unknown_version_exits_6(bundle: Path, tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "trtexec"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho no banner here\n")
    tool.chmod(0o755)
    done = _run_script(bundle, path=f"{tool.parent}:/usr/bin:/bin")
    assert done.returncode == EXIT_UNSUPPORTED and "cannot tell the TensorRT version" in done.stdout


_NEWER_THAN_38 = {"removeprefix", "removesuffix", "is_relative_to", "with_stem", "BooleanOptionalAction",
                  "cache", "zip_strict"}
_BUILTIN_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}


@pytest.mark.parametrize("name", DEVICE_SCRIPTS)
def test_device_scripts_are_python_38_and_self_contained(name: str) -> None:
    source = (DEVICE_DIR / name).read_text()
    tree = ast.parse(source, feature_version=(3, 8))  # syntax: no match, no parenthesised context managers...
    future_annotations = any(isinstance(node, ast.ImportFrom) and node.module == "__future__" for node in tree.body)
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _NEWER_THAN_38:
            problems.append(f"line {node.lineno}: .{node.attr} is newer than Python 3.8")
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            problems += [f"line {node.lineno}: imports {m}" for m in modules if m.split(".")[0] == "core"]
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations = [a.annotation for a in [*node.args.args, *node.args.kwonlyargs] if a.annotation]
            annotations += [node.returns] if node.returns else []
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for annotation in annotations if not future_annotations else []:
            for part in ast.walk(annotation):  # evaluated at definition time on 3.8: list[int], X | Y fail there
                if isinstance(part, ast.Subscript) and isinstance(part.value, ast.Name) and \
                        part.value.id in _BUILTIN_GENERICS:
                    problems.append(f"line {part.lineno}: {part.value.id}[...] annotation fails on Python 3.8")
                if isinstance(part, ast.BinOp) and isinstance(part.op, ast.BitOr):
                    problems.append(f"line {part.lineno}: X | Y annotation fails on Python 3.8")
    assert not problems, problems
    if name == "build_engine.py":  # standard library only (tensorrt just for its version, inside a function)
        top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
        assert top <= set(sys.stdlib_module_names), top - set(sys.stdlib_module_names)


def test_script_is_executable_without_the_package(bundle: Path) -> None:
    """The copy in the bundle runs on its own: no `core` on the path, another working directory."""
    done = subprocess.run([sys.executable, str(bundle / "device" / "build_engine.py"), "--bundle", str(bundle),
                           "--dry-run", "--trt-version", "8.5.2"], cwd="/", env={"PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "--int8 --fp16" in done.stdout
    assert os.path.exists(bundle / "build.log")


def test_device_scripts_read_the_format_the_host_writes() -> None:
    """The device scripts cannot import core, so they repeat its constants; they must not drift apart."""
    from core import bundle
    from core.deploy.device import trt_runtime

    for script in (build_engine, trt_runtime):
        assert (script.BUNDLE_FORMAT, script.SUPPORTED_FORMAT_VERSION) == (bundle.BUNDLE_FORMAT,
                                                                           bundle.FORMAT_VERSION)
    assert trt_runtime.ENGINE_FILE == build_engine.ENGINE_FILE
    assert trt_runtime.ENGINE_INFO_FILE == build_engine.ENGINE_INFO_FILE
