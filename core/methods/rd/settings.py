"""Reverse Distillation's training settings (the paper's Adam) and the size of its one-class embedding."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class ReverseDistillationSettings(MethodSettings):
    epochs: int = setting(20, "training epochs", minimum=1, maximum=10_000)
    batch_size: int = setting(8, "images per training step", minimum=1, maximum=4096)
    learning_rate: float = setting(0.005, "Adam learning rate (betas 0.5 / 0.999, as the paper)", minimum=0,
                                   above=True)
    embedding_stride: int = setting(1, "the embedding's stride relative to the deepest tapped layer (paper: 2)",
                                    minimum=1, maximum=2)
