"""The lines `train` and `evaluate` print about each category's threshold: its value and how sure it is."""

from __future__ import annotations

from core.model_manifest import Thresholds


def format_statements(thresholds: Thresholds) -> str:
    """One line per category with a recorded basis: 'threshold bottle 0.0421: chosen from 53 normal images (...)'.
    Empty for models saved before thresholds had a basis."""
    return "\n".join(f"threshold {name} {thresholds.per_category[name]:.4g}: {statement}"
                     for name, statement in thresholds.statements().items() if name in thresholds.per_category)
