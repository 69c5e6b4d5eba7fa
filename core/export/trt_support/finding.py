"""One reason TensorRT would refuse a graph."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """A node TensorRT would not parse or build: `problem` says what is wrong and why (usually quoting the table).

    `node` is the node's name (graph inputs and outputs are named by their tensor, the model as a whole by
    "(model)"), `op_type` its operator ("graph input", "opset" for those).
    """

    node: str
    op_type: str
    problem: str

    def __str__(self) -> str:
        return f"{self.node} ({self.op_type}): {self.problem}"
