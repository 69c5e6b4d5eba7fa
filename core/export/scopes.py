"""Which nodes of an exported graph belong to a method's networks, from the module paths its spec declares.

The TorchScript ONNX exporter names each node after the module scope that made it: a node of module
`teacher.layers[3].conv` is "/teacher/layers.3/conv/Conv". Comparing in one spelling (dots as slashes) makes the
module path "teacher.layers" match it, and "teacher" too, but not "/teacher_head/...". This is the one place that
reads node names; export, FP16 and INT8 ask it.
"""

from __future__ import annotations

from collections.abc import Sequence


def _segments(text: str) -> list[str]:
    return [part for part in text.replace(".", "/").split("/") if part]


def in_modules(node_name: str, module_paths: Sequence[str]) -> bool:
    """True when `node_name` was made by (a submodule of) one of `module_paths`."""
    segments = _segments(node_name)
    for path in module_paths:
        wanted = _segments(path)
        if segments[: len(wanted)] == wanted and len(segments) > len(wanted):
            return True
    return False
