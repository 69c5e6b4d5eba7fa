"""The disk fills while a model or bundle is saved: a one-line message naming the path and "no space left", the
previous artefact intact, no partial directory left behind. Saving NG frames onto a full disk is reported and does
not stop inspection.

Produced for real: a tmpfs just too small for a second copy (mount needs root; where the sandbox refuses, those
tests skip), and a process file-size limit (RLIMIT_FSIZE) in a child process, which needs no privilege.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from faults_testkit import (assert_still_loads, cli_command, cli_environment, snapshot, temporaries_of, tmpfs,
                            train_arguments)

from core.cli import main
from core.runtime import open_runtime
from core.sources import LiveSettings, inspect_frame
from core.sources.base import Frame


def _bytes(folder: Path, name: str = "") -> int:
    return sum(path.stat().st_size for path in folder.rglob(name or "*") if path.is_file())


def _saved_onto_a_full_disk(capsys: pytest.CaptureFixture, arguments: list[str], target: Path) -> str:
    before = snapshot(target)
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert_still_loads(target, before)
    assert sorted(os.listdir(target.parent)) == [target.name]  # no temporary, no partial copy
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("room_for", ["weights, not the graph", "not even the weights"])
def test_training_onto_a_full_disk_keeps_the_previous_model(room_for: str, good_model: Path, normal_images: Path,
                                                            tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    spare = (_bytes(good_model, "weights.safetensors") + _bytes(good_model, "model.onnx") // 2
             if room_for == "weights, not the graph" else _bytes(good_model, "weights.safetensors") // 2)
    with tmpfs(tmp_path / "disk", _bytes(good_model) + spare) as disk:
        target = Path(disk / "model")
        shutil.copytree(good_model, target)
        line = _saved_onto_a_full_disk(capsys, train_arguments(normal_images, target), target)
    assert line.startswith(f"error: {target}: no space left on device while writing the model directory")
    assert "nothing was replaced" in line


def test_export_onto_a_full_disk_keeps_the_previous_bundle(good_model: Path, good_bundle: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    with tmpfs(tmp_path / "disk", _bytes(good_bundle) + _bytes(good_bundle, "model.onnx") // 2) as disk:
        target = Path(disk / "bundle")
        shutil.copytree(good_bundle, target)
        arguments = ["export", "--model", str(good_model), "--precision", "fp32", "--out", str(target)]
        line = _saved_onto_a_full_disk(capsys, arguments, target)
    assert line.startswith(f"error: {target}: no space left on device while writing the deployment bundle")


@pytest.mark.slow
def test_a_file_size_limit_is_reported_and_keeps_the_previous_model(model_copy: Path, normal_images: Path) -> None:
    before = snapshot(model_copy)
    limit = _bytes(model_copy, "weights.safetensors") // 2  # the first file of the save is already too large

    def limit_file_size() -> None:  # runs in the child, before it starts Python
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    result = subprocess.run(cli_command(*train_arguments(normal_images, model_copy)), env=cli_environment(),
                            capture_output=True, text=True, preexec_fn=limit_file_size, timeout=600)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: {model_copy}: file too large (file system or process file size limit) while writing the model "
        "directory")
    assert_still_loads(model_copy, before)
    assert temporaries_of(model_copy) == []


def test_ng_frames_onto_a_full_disk_are_reported_and_inspection_goes_on(good_model: Path, tmp_path: Path) -> None:
    runtime = open_runtime(good_model)
    settings = LiveSettings.for_runtime(runtime, threshold=0.0)  # every frame NG, so every frame is saved
    noise = np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)  # ~800 kB as PNG
    with tmpfs(tmp_path / "disk", 256 * 1024) as disk:
        settings.save_ng_to = disk
        results = [inspect_frame(runtime, Frame(noise, index, f"cam #{index}"), settings, index) for index in (1, 2)]
        left = os.listdir(disk)
    assert [result.is_ng for result in results] == [True, True]  # inspected all the same
    assert all(result.saved_to is None and result.save_error.startswith(f"could not save NG frame to {disk}: {disk}/")
               and "no space left on device" in result.save_error for result in results)
    assert left == []  # no half-written PNG
