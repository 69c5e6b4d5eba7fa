"""Turn the tables' restriction prose into checks that can be decided from the graph alone.

The tables write restrictions in a handful of recurring forms ("`K` input must be an initializer", "`y_zero_point`
must be 0", "`dilations` must be empty or all ones", "Supported resize modes: `nearest`, `linear`", "2D or 3D
pooling only", "`reduction` is not supported"). Each form is recognised by a pattern, and its backticked names are
resolved against the node's ONNX schema when checked: the same sentence covers an input in one opset and an
attribute in another (Unsqueeze's `axes`). Sentences that match no form, or that need run-time shapes (If branch
shapes, LSTM activations, Einsum equations), are kept as `unchecked` and never block an export.

Example:
    >>> rules, unchecked = compile_restrictions(load_table("tensorrt8").rows["TopK"])
    >>> rules[0].check(view, topk_node)
    "input 'K' ('/Cast_output_0') is computed in the graph, not an initializer"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from core.export.trt_support.graph import GraphView
from core.export.trt_support.table import OperatorRow

# "Supported <what>: `a`, `b`" names an attribute by a phrase; the phrases the tables use, and their attributes.
_PHRASE_ATTRIBUTES = {
    "resize transformation modes": "coordinate_transformation_mode",
    "resize modes": "mode",
    "nearest modes": "nearest_mode",
    "aspect ratio policy": "keep_aspect_ratio_policy",
    "antialiasing": "antialias",
}
# Names the tables misspell (10.1's Dropout says `is_traning` for the `training_mode` input).
_ALIASES = {"is_traning": "training_mode"}

Check = Callable[[GraphView, onnx.NodeProto], "str | None"]


@dataclass(frozen=True)
class Rule:
    """One checkable restriction: `check` returns what is wrong with a node, or None when it complies."""

    sentence: str
    check: Check


def compile_restrictions(row: OperatorRow) -> tuple[tuple[Rule, ...], tuple[str, ...]]:
    """The row's checkable rules, and the sentences left unchecked."""
    rules: list[Rule] = []
    unchecked: list[str] = []
    for sentence in row.restrictions:
        checks = _checks_for(sentence)
        rules += [Rule(sentence, check) for check in checks]
        if not checks:
            unchecked.append(sentence)
    return tuple(rules), tuple(unchecked)


def _names(sentence: str) -> list[str]:
    return [_ALIASES.get(name, name) for name in re.findall(r"`([^`]+)`", sentence)]


def _checks_for(sentence: str) -> list[Check]:
    lowered = sentence.lower()
    supported = re.match(r"supported (.+?):\s*(.+)$", lowered)
    if supported:
        attribute = _PHRASE_ATTRIBUTES.get(supported.group(1).strip())
        return [_one_of(attribute, tuple(_names(sentence)))] if attribute else []
    if re.search(r"must be (an initializer|initializers|a constant tensor|a build-time constant)", lowered):
        checks = [_constant(name) for name in _names(sentence)]
        false_or_true = re.search(r"evaluate to (false|true)", lowered)
        if false_or_true:
            checks += [_equals(name, int(false_or_true.group(1) == "true")) for name in _names(sentence)]
        return checks
    if match := re.search(r"`(\w+)`(?: input| attribute)? must be (zero|-?\d+)\b", sentence):
        return [_equals(_ALIASES.get(match.group(1), match.group(1)), 0 if match.group(2) == "zero" else
                        int(match.group(2)))]
    if match := re.search(r"`(\w+)`(?: input)? must be less than (\d+)", sentence):
        return [_less_than(match.group(1), int(match.group(2)))]
    if match := re.search(r"`(\w+)` must be empty or all ones", sentence):
        return [_all_ones(match.group(1))]
    if match := re.search(r"(\d)d or (\d)d (?:pooling|spatial)", lowered):
        return [_spatial_dims(frozenset({int(match.group(1)), int(match.group(2))}))]
    if match := re.search(r"rank must be >=\s*(\d+)\s*&\s*<=\s*(\d+)", lowered):
        return [_rank(int(match.group(1)), int(match.group(2)))]
    if match := re.search(r"^input must be (\d)d", lowered):
        return [_rank(int(match.group(1)), int(match.group(1)))]
    if re.search(r"\b(is|are) not supported$|\bunsupported$", lowered):
        names = _names(sentence) or [_PHRASE_ATTRIBUTES[w] for w in lowered.split() if w in _PHRASE_ATTRIBUTES]
        return [_unused(name) for name in names]
    return []


def _constant(formal: str) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        tensor = view.input_named(node, formal)
        if tensor is None or view.is_constant(tensor):
            return None  # absent, an attribute at this opset, or constant: all fine
        return f"input '{formal}' ('{tensor}') is computed in the graph, not an initializer"
    return check


def _equals(formal: str, expected: int) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        tensor = view.input_named(node, formal)
        if tensor is not None:
            if not view.is_constant(tensor):
                return f"input '{formal}' ('{tensor}') is computed in the graph; it must be the constant {expected}"
            value = view.constant_value(tensor)
            if value is None or not np.all(value == expected):
                return f"input '{formal}' ('{tensor}') is {_summary(value)}, not {expected}"
            return None
        if view.has_attribute(node, formal):
            value = view.attribute(node, formal)
            if value is not None and value != expected:
                return f"attribute '{formal}' is {value!r}, not {expected}"
        return None
    return check


def _less_than(formal: str, limit: int) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        tensor = view.input_named(node, formal)
        value = view.constant_value(tensor) if tensor else view.attribute(node, formal)
        # A computed value cannot be judged before the engine is built; TensorRT checks it then.
        if value is not None and np.any(np.asarray(value) >= limit):
            return f"'{formal}' is {_summary(value)}, not less than {limit}"
        return None
    return check


def _all_ones(attribute: str) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        value = view.attribute(node, attribute)
        if value and any(v != 1 for v in value):
            return f"attribute '{attribute}' is {list(value)}"
        return None
    return check


def _one_of(attribute: str, allowed: tuple[str, ...]) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        value = view.attribute(node, attribute)
        if value is not None and value not in allowed:
            return f"attribute '{attribute}' is '{value}' (TensorRT takes {', '.join(allowed)})"
        return None
    return check


def _unused(name: str) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        if view.input_named(node, name):
            return f"input '{name}' is given"
        if view.output_named(node, name):
            return f"output '{name}' is produced"
        if view.has_attribute(node, name) and view.is_set(node, name):
            value = view.attribute(node, name)
            schema = view.schema(node)
            default = schema.attributes[name].default_value if schema and name in schema.attributes else None
            if default is None or not default.name or value != _default(default):
                return f"attribute '{name}' is set (to {_summary(value)})"
        return None
    return check


def _spatial_dims(allowed: frozenset[int]) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        rank = view.ranks.get(node.input[0]) if node.input else None
        kernel = view.attribute(node, "kernel_shape") if view.has_attribute(node, "kernel_shape") else None
        dims = rank - 2 if rank is not None else (len(kernel) if kernel else None)
        if dims is not None and dims not in allowed:
            return f"it works on {dims} spatial dimension(s)"
        return None
    return check


def _rank(low: int, high: int) -> Check:
    def check(view: GraphView, node: onnx.NodeProto) -> str | None:
        rank = view.ranks.get(node.input[0]) if node.input else None
        if rank is not None and not low <= rank <= high:
            return f"its input has rank {rank}"
        return None
    return check


def _default(attribute: onnx.AttributeProto) -> Any:
    value = onnx.helper.get_attribute_value(attribute)
    return value.decode() if isinstance(value, bytes) else value


def _summary(value: Any) -> str:
    """A short description of a constant's or attribute's value for a message."""
    if value is None:
        return "not a dense tensor"
    if isinstance(value, (str, int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return str(list(value)[:8])
    if isinstance(value, np.ndarray):
        if value.size <= 4:
            return str(value.tolist())
        return f"a {value.dtype} tensor of {value.size} values (max {value.max()})"
    return type(value).__name__
