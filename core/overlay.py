"""Draw an anomaly map over its image, with the verdict and score, for saved results and the live view alike."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.files import write_file_atomically

OK_COLOUR = (40, 170, 60)
NG_COLOUR = (220, 40, 40)


def normalise_map(anomaly_map: np.ndarray, low: float, threshold: float) -> np.ndarray:
    """Map values to 0..1 so that `low` (a typical normal value) is 0 and the image threshold is 1."""
    span = max(threshold - low, 1e-12)
    return np.clip((anomaly_map - low) / span, 0.0, 1.0).astype(np.float32)


def heat_levels(anomaly_map: np.ndarray, low: float, threshold: float) -> np.ndarray:
    """`normalise_map` scaled to 0..255 and rounded, as uint8: the live view's heat map, in two passes over the map
    and one buffer instead of seven (it runs on every frame)."""
    scale = 255.0 / max(threshold - low, 1e-12)
    levels = np.multiply(anomaly_map, scale, dtype=np.float32)
    levels += 0.5 - low * scale  # + 0.5: the cast below truncates, this rounds
    np.clip(levels, 0.0, 255.0, out=levels)
    return levels.astype(np.uint8)


def heat_colours(normalised: np.ndarray) -> np.ndarray:
    """0..1 map -> H x W x 3 uint8 RGB through the JET colour scale."""
    indices = np.round(normalised * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(indices, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def render_overlay(
    image: np.ndarray,
    anomaly_map: np.ndarray,
    *,
    low: float,
    threshold: float,
    score: float,
    opacity: float = 0.5,
    label: str = "",
) -> np.ndarray:
    """The image (H x W x 3 uint8, any size) with the heat map blended in where it is hot, and a verdict banner."""
    height, width = image.shape[:2]
    normalised = normalise_map(cv2.resize(anomaly_map, (width, height), interpolation=cv2.INTER_LINEAR), low, threshold)
    alpha = (opacity * normalised)[..., None]  # cold areas stay untouched so the part itself remains readable
    blended = (image * (1 - alpha) + heat_colours(normalised) * alpha).astype(np.uint8)
    is_ng = score >= threshold
    text = f"{'NG' if is_ng else 'OK'}  score {score:.4g} / {threshold:.4g}" + (f"  {label}" if label else "")
    scale = max(0.5, width / 900)
    thickness = max(1, round(2 * scale))
    (text_width, text_height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    cv2.rectangle(blended, (0, 0), (min(width, text_width + 16), text_height + baseline + 12),
                  NG_COLOUR if is_ng else OK_COLOUR, thickness=-1)
    cv2.putText(blended, text, (8, text_height + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness,
                cv2.LINE_AA)
    return blended


def save_png(target: Path, image: np.ndarray) -> Path:
    """Write an RGB image (an overlay) as PNG at `target`, atomically: a kill or a full disk never leaves half a PNG
    (a full disk raises `InputError` naming `target`). Returns the file written."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{target}: could not encode the image")
    return write_file_atomically(target, encoded.tobytes())
