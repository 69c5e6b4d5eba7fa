"""STFPM's and PaSTe's training settings (the STFPM paper's SGD)."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class StudentSettings(MethodSettings):
    epochs: int = setting(25, "training epochs", minimum=1, maximum=10_000)
    batch_size: int = setting(8, "images per training step", minimum=1, maximum=1024)
    learning_rate: float = setting(0.4, "SGD learning rate (momentum 0.9, weight decay 1e-4)", minimum=0, above=True)
    final_lr: float = setting(1.0, "learning rate at the last step, as a fraction of the first: a cosine decay "
                              "(1: constant)", minimum=0, maximum=1)
