"""CFA's settings: the paper's (and anomalib's) defaults for MVTec AD, training with AdamW as the official code."""

from __future__ import annotations

from dataclasses import dataclass

from core.methods.settings import MethodSettings, setting


@dataclass(frozen=True)
class CfaSettings(MethodSettings):
    epochs: int = setting(30, "training epochs of the patch descriptor", minimum=1, maximum=10_000)
    batch_size: int = setting(4, "images per training step", minimum=1, maximum=4096)
    learning_rate: float = setting(1e-3, "AdamW learning rate (weight decay 5e-4, AMSGrad)", minimum=0, above=True)
    gamma_d: int = setting(1, "descriptor channel reduction: it outputs the backbone's channels / gamma_d",
                           minimum=1, maximum=64)
    gamma_c: int = setting(1, "memory compression: K-means keeps positions / gamma_c entries (1: one per position)",
                           minimum=1, maximum=4096)
    neighbours: int = setting(3, "K: nearest memory entries attracted into the hypersphere and softmin-scored",
                              minimum=1, maximum=16)
    hard_negatives: int = setting(3, "J: next-nearest memory entries repelled from the hypersphere", minimum=0,
                                  maximum=16)
    radius: float = setting(1e-5, "hypersphere radius r (on the squared feature distance, as r^2)", minimum=0)
    margin: float = setting(0.1, "alpha: how far beyond r^2 the hard negatives are pushed", minimum=0)
