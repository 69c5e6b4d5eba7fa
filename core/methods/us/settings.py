"""Uninformed Students' training settings (Bergmann et al.'s Adam, on an ensemble of students)."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class UninformedStudentsSettings(MethodSettings):
    # An epoch trains every student, so it costs about 2.5 STFPM epochs with three students: 10 epochs here cost
    # about what STFPM's 25 do.
    epochs: int = setting(10, "training epochs (each trains every student)", minimum=1, maximum=10_000)
    batch_size: int = setting(8, "images per training step", minimum=1, maximum=4096)
    learning_rate: float = setting(1e-3, "Adam learning rate (weight decay 1e-5)", minimum=0, above=True)
    students: int = setting(3, "students in the ensemble: their spread is the predictive variance",
                            minimum=2, maximum=16)
