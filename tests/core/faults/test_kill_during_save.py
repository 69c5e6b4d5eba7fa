"""`kill -9` of the real `python -m core train` / `export` while it writes: the previous model or bundle survives.

Each run is stopped (SIGSTOP, so the moment is exact) once its temporary sibling holds the files of one stage of
the save, then killed with SIGKILL: nothing a process can catch, nothing flushed on the way out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from faults_testkit import (assert_still_loads, cli_command, kill_while_saving, snapshot, temporaries_of,
                            train_arguments)

from core.cli import main

pytestmark = pytest.mark.slow  # each case starts the real CLI: ~10 s of imports on a loaded 2-core machine

TRAIN_MOMENTS = {
    "weights written, graph being exported": lambda names: "weights.safetensors" in names,
    "graph written": lambda names: "model.onnx" in names,
    "manifest written, being made durable": lambda names: "manifest.json" in names,
}
EXPORT_MOMENTS = {
    "bundle being copied": lambda names: True,
    "manifest written, being made durable": lambda names: "manifest.json" in names,
}


@pytest.mark.parametrize("moment", TRAIN_MOMENTS, ids=list(TRAIN_MOMENTS))
def test_training_killed_while_saving_leaves_the_previous_model(moment: str, model_copy: Path, normal_images: Path,
                                                                tmp_path: Path) -> None:
    before = snapshot(model_copy)
    command = cli_command(*train_arguments(normal_images, model_copy))
    held = kill_while_saving(command, model_copy, TRAIN_MOMENTS[moment], tmp_path / "train.log")
    assert TRAIN_MOMENTS[moment](held), f"stopped at the wrong moment: the temporary held {sorted(held)}"
    assert_still_loads(model_copy, before)


@pytest.mark.parametrize("moment", EXPORT_MOMENTS, ids=list(EXPORT_MOMENTS))
def test_export_killed_while_saving_leaves_the_previous_bundle(moment: str, good_model: Path, bundle_copy: Path,
                                                               tmp_path: Path) -> None:
    before = snapshot(bundle_copy)
    command = cli_command("export", "--model", str(good_model), "--precision", "fp32", "--out", str(bundle_copy))
    held = kill_while_saving(command, bundle_copy, EXPORT_MOMENTS[moment], tmp_path / "export.log")
    assert EXPORT_MOMENTS[moment](held)
    assert_still_loads(bundle_copy, before)


def test_the_next_run_clears_what_a_killed_one_left(model_copy: Path, normal_images: Path, tmp_path: Path) -> None:
    command = cli_command(*train_arguments(normal_images, model_copy))
    kill_while_saving(command, model_copy, TRAIN_MOMENTS["graph written"], tmp_path / "train.log")
    assert len(temporaries_of(model_copy)) == 1  # the killed writer's, which nothing could remove at the time

    assert main(train_arguments(normal_images, model_copy)) == 0
    assert temporaries_of(model_copy) == [] and sorted(p.name for p in model_copy.parent.iterdir()) == ["line-a"]
    assert_still_loads(model_copy, snapshot(model_copy))
