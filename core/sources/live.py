"""Live inspection as a job generator: frames from a source, scored by a runtime, turned into results to show.

Each frame goes through three timed stages, the latency split the window and the benchmark report:
capture/pre-processing (read + decode + resize to the model's input), inference (`runtime.predict`) and
post-processing (verdict, the anomaly map scaled to 0..255 for display, and for NG frames a thumbnail and, when
asked, a saved overlay). The generator yields a `FrameResult` per inspected frame and the source's status changes
as `SourceStatus`; it yields `None` about every `idle_seconds` when nothing happened, so the caller can check for
cancellation and the UI can show that it waits.

Example:
    >>> settings = LiveSettings(threshold=runtime.threshold)                                  # doctest: +SKIP
    >>> for event in inspect_stream(runtime, open_source("file://line.mp4"), settings, token):  # doctest: +SKIP
    ...     if isinstance(event, FrameResult):
    ...         print(event.index, event.score, event.verdict)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from core.data.images import resize_image
from core.errors import InputError
from core.jobs import CancelToken
from core.overlay import heat_levels, render_overlay, save_png
from core.sources.base import DeviceFrame, Frame, FrameSource, SourceStatus
from core.sources.reader import LatestFrameReader

THUMBNAIL_SIZE = 160


class ScoringRuntime(Protocol):
    """What live inspection needs of a runtime (`core.runtime.ModelRuntime` has it)."""

    name: str
    image_size: int
    threshold: float
    map_low: float
    categories: list[str]
    category_thresholds: dict[str, float]

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass
class LiveSettings:
    """Settings the operator may change while inspection runs (from another thread: each is one attribute, read
    once per frame, so a change applies from the next frame on).

    `threshold` decides the verdict and tops the colour scale of the map; `save_ng_to` is a folder where NG frames
    are written with their overlay, or None.

    A unified model chose a threshold per category as well (its categories can differ tenfold in normal scores).
    With `category_thresholds` and the model's own overall threshold `model_threshold` set, a frame whose category
    is known is judged by its category's threshold, scaled by `threshold / model_threshold`: the operator's one
    slider moves every category's threshold in proportion, and at its default each category gets its own.
    """

    threshold: float
    map_low: float = 0.0
    save_ng_to: Path | None = None
    category_thresholds: dict[str, float] = field(default_factory=dict)
    model_threshold: float | None = None

    @classmethod
    def for_runtime(cls, runtime: ScoringRuntime, threshold: float | None = None,
                    save_ng_to: Path | None = None) -> LiveSettings:
        """A model's own settings: its overall threshold (or `threshold`), display range and category thresholds."""
        return cls(threshold=runtime.threshold if threshold is None else threshold, map_low=runtime.map_low,
                   save_ng_to=save_ng_to, category_thresholds=runtime.category_thresholds,
                   model_threshold=runtime.threshold)

    def threshold_for(self, category: str) -> float:
        """The threshold a frame of `category` ("" when unknown) is judged by."""
        own = self.category_thresholds.get(category) if category else None
        if own is None or not self.model_threshold:
            return self.threshold
        return own * self.threshold / self.model_threshold


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of one frame."""

    capture_ms: float
    inference_ms: float
    post_ms: float

    @property
    def total_ms(self) -> float:
        return self.capture_ms + self.inference_ms + self.post_ms


@dataclass(frozen=True)
class FrameResult:
    """One inspected frame. `heat` is the anomaly map at model resolution as uint8 0..255 (0 = typical normal,
    255 = at or above the threshold), ready for a lookup table; `thumbnail` is set for NG frames only."""

    index: int
    frame: Frame
    score: float
    threshold: float
    heat: np.ndarray
    anomaly_map: np.ndarray
    category: str
    timings: Timings
    dropped: int
    thumbnail: np.ndarray | None = None
    saved_to: Path | None = None
    save_error: str = ""
    # The frame as the network saw it (S x S x 3 uint8), for the drift statistics; None for a device's own verdict.
    model_input: np.ndarray | None = None

    @property
    def is_ng(self) -> bool:
        return self.score >= self.threshold

    @property
    def verdict(self) -> str:
        return "NG" if self.is_ng else "OK"


LiveEvent = FrameResult | SourceStatus | None


def inspect_stream(
    runtime: ScoringRuntime,
    source: FrameSource,
    settings: LiveSettings,
    cancel: CancelToken | None = None,
    idle_seconds: float = 0.1,
) -> Generator[LiveEvent, None, int]:
    """Inspect frames from `source` until it ends or `cancel` is set; returns the number of frames inspected.

    The source is read on its own thread (see `LatestFrameReader`) and closed when the generator finishes,
    is closed, or raises. Cancelling ends the generator quietly (it returns), since stopping is what the
    operator asked for.
    """
    cancel = cancel or CancelToken()
    inspected = 0
    warm_up_overlay()
    # no runtime: a device's verdicts only (`DeviceFrame`s need no pre-processing)
    prepare = None if runtime is None else (lambda frame: with_model_input(frame, runtime.image_size))
    with LatestFrameReader(source, prepare=prepare) as reader:
        while not cancel.cancelled:
            frame = reader.take(timeout=idle_seconds)
            yield from reader.pop_statuses()
            if frame is None:
                if reader.ended:
                    break
                yield None
                continue
            inspected += 1
            if isinstance(frame, DeviceFrame):  # inspected on the device already: show its result
                yield device_result(frame, inspected, reader.dropped)
            else:
                yield inspect_frame(runtime, frame, settings, inspected, reader.dropped)
        yield from reader.pop_statuses()
    return inspected


def inspect_frame(runtime: ScoringRuntime, frame: Frame, settings: LiveSettings, index: int = 0,
                  dropped: int = 0) -> FrameResult:
    """Pre-process, score and post-process one frame (see the module docstring for what each stage does)."""
    started = time.perf_counter()
    pixels = model_input_of(frame, runtime.image_size)[None]
    scored = time.perf_counter()
    scores, maps = runtime.predict(pixels)
    inferred = time.perf_counter()
    category = category_of(frame, runtime.categories)
    threshold, low, save_to = settings.threshold_for(category), settings.map_low, settings.save_ng_to
    score = float(scores[0])
    anomaly_map = maps[0]
    heat = heat_levels(anomaly_map, low, threshold)
    thumbnail, saved_to, save_error = None, None, ""
    if score >= threshold:
        small = _thumbnail_frame(frame.image)
        thumbnail = render_overlay(small, anomaly_map, low=low, threshold=threshold, score=score)
        if save_to is not None:
            try:
                saved_to = save_overlay(frame, anomaly_map, score, threshold, low, category, Path(save_to))
            except (OSError, InputError) as error:  # a full disk must not stop the line; the operator is told
                save_error = f"could not save NG frame to {save_to}: {error}"
    finished = time.perf_counter()
    timings = Timings(
        capture_ms=(frame.capture_seconds + scored - started) * 1000,
        inference_ms=(inferred - scored) * 1000,
        post_ms=(finished - inferred) * 1000,
    )
    return FrameResult(index, frame, score, threshold, heat, anomaly_map, category, timings, dropped, thumbnail,
                       saved_to, save_error, pixels[0])


def with_model_input(frame: Frame, size: int) -> Frame:
    """`frame` with its image resized to the model's `size` x `size` (timed as part of its capture); a device's
    frame, already inspected, is returned as it is."""
    if isinstance(frame, DeviceFrame):
        return frame
    started = time.perf_counter()
    pixels = resize_image(frame.image, size)
    return dataclasses.replace(frame, model_input=pixels,
                               capture_seconds=frame.capture_seconds + time.perf_counter() - started)


def model_input_of(frame: Frame, size: int) -> np.ndarray:
    """The frame at the model's input size: the one the capture thread prepared, or resized now."""
    prepared = frame.model_input
    if prepared is not None and prepared.shape[:2] == (size, size):
        return prepared
    return resize_image(frame.image, size)


def device_result(frame: DeviceFrame, index: int = 0, dropped: int = 0) -> FrameResult:
    """A device's own verdict as a `FrameResult`: its score, threshold and latency split (capture and
    pre-processing together, as here). The overlay is drawn into the image on the device, so the heat map is empty."""
    last = frame.device.get("last") or {}
    latency = frame.device.get("latency_ms") or {}
    score, threshold = float(last.get("score", 0.0)), float(last.get("threshold", 1.0))
    timings = Timings(capture_ms=float(latency.get("capture", 0.0)) + float(latency.get("pre", 0.0)),
                      inference_ms=float(latency.get("engine", 0.0)), post_ms=float(latency.get("post", 0.0)))
    blank = np.zeros((8, 8), np.float32)
    thumbnail = _thumbnail_frame(frame.image) if score >= threshold else None
    return FrameResult(index, frame, score, threshold, blank.astype(np.uint8), blank, str(last.get("category", "")),
                       timings, dropped, thumbnail)


def warm_up_overlay() -> None:
    """Draw one tiny overlay: OpenCV's first text drawing costs ~50 ms, which would otherwise land on the first NG."""
    render_overlay(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.float32), low=0.0, threshold=1.0, score=0.0)


def category_of(frame: Frame, categories: list[str]) -> str:
    """The model category a frame shows, when its file path names one (`.../cup/test/crack/003.png`), else ""."""
    return "" if frame.path is None else category_in_path(frame.path, categories)


def category_in_path(path: Path, categories: list[str]) -> str:
    """The innermost folder of `path` named like one of `categories`, else ""."""
    known = set(categories)
    for part in reversed(Path(path).parts[:-1]):
        if part in known:
            return part
    return ""


def save_overlay(frame: Frame, anomaly_map: np.ndarray, score: float, threshold: float, low: float,
                 category: str, folder: Path) -> Path:
    """Write the frame with its heat map and verdict banner as PNG in `folder`; returns the file written."""
    folder.mkdir(parents=True, exist_ok=True)
    overlay = render_overlay(frame.image, anomaly_map, low=low, threshold=threshold, score=score, label=category)
    stem = Path(frame.name.replace(" #", "_").replace(" ", "_")).stem
    target = folder / f"{time.strftime('%Y%m%d-%H%M%S')}_{frame.index:06d}_{stem}_NG.png"
    return save_png(target, overlay)


def _thumbnail_frame(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = THUMBNAIL_SIZE / max(height, width)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
