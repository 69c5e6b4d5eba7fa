"""Running an exported graph needs neither PyTorch nor timm: a live station or a device pays only for what it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import core
from core.demo_model import SHIPPED_DEMO_MODEL

BLOCK_TORCH_AND_PREDICT = r"""
import sys

class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"torch", "timm", "torchvision", "torchao", "safetensors"}:
            raise ImportError(f"{name} imported on the ONNX Runtime path")
        return None

sys.meta_path.insert(0, BlockTorch())
import numpy as np
from core.overlay import *  # noqa: F403 - the live loop's other parts
from core.runtime import open_runtime
from core.sources import inspect_stream, open_source

runtime = open_runtime(sys.argv[1], "auto")
scores, maps = runtime.predict(np.zeros((1, runtime.image_size, runtime.image_size, 3), np.uint8))
print(runtime.name, maps.shape)
"""


def test_onnx_runtime_path_imports_no_torch() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH_AND_PREDICT, str(SHIPPED_DEMO_MODEL)],
                            capture_output=True, text=True, cwd=Path(core.__file__).parents[1], timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "onnxruntime"
