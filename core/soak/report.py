"""What a soak run measured, whether it met the targets, printed and written as JSON (see `core.soak`)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.soak.stats import RISE_LIMIT_PCT, RSS_GROWTH_LIMIT_PCT, RssFigures, Trend

LATENCY, CPU, UI = "latency", "cpu", "ui"
SERIES_TITLES = {
    LATENCY: "latency per frame, wall clock (capture + inference + post)",
    CPU: "CPU time per frame, all threads",
    UI: "window update per batch, UI-thread CPU",
}
LOAD_TWIN = {LATENCY: CPU}  # a wall-clock series, and the CPU series that tells other users' load from more work


@dataclass(frozen=True)
class SoakReport:
    """The figures of one soak run; `context` says what ran where (model, source, the machine's load average at
    start and end, ...), `python_objects` the objects alive after warm-up and at the end."""

    frames: int
    warm_up: int
    seconds: float
    fps: float
    dropped: dict[str, int]
    rss: RssFigures
    trends: dict[str, Trend]
    context: dict[str, Any] = field(default_factory=dict)
    python_objects: tuple[int, int] = (0, 0)
    rss_trace: list[tuple[int, float]] = field(default_factory=list)  # (frame, MB), thinned to a plottable few

    def verdict(self, name: str) -> tuple[str, bool]:
        """How series `name` is read, and whether it passes: a wall-clock rise without a CPU rise is the load."""
        trend = self.trends[name]
        twin = self.trends.get(LOAD_TWIN.get(name, ""))
        if trend.direction == "rising" and twin is not None and twin.direction != "rising":
            return "rising with the machine's load (CPU time per frame does not rise)", True
        return ("no trend" if trend.direction == "none" else trend.direction), trend.direction != "rising"

    @property
    def passed(self) -> bool:
        return self.rss.passed and all(self.verdict(name)[1] for name in self.trends)

    def to_dict(self) -> dict[str, Any]:
        trends = {name: {**asdict(trend), "verdict": self.verdict(name)[0], "passed": self.verdict(name)[1]}
                  for name, trend in self.trends.items()}
        return {
            "frames": self.frames, "warm_up": self.warm_up, "seconds": round(self.seconds, 1),
            "fps": round(self.fps, 2), "dropped": self.dropped, "rss": {**asdict(self.rss), "passed": self.rss.passed},
            "trends": trends, "python_objects": list(self.python_objects),
            "targets": {"rss_growth_max_pct": RSS_GROWTH_LIMIT_PCT, "rise_max_pct": RISE_LIMIT_PCT},
            "passed": self.passed, **self.context, "rss_trace": self.rss_trace,
        }

    def lines(self) -> list[str]:
        """The report as printed: the run, memory, objects, one line per series, the verdict."""
        dropped = ", ".join(f"{count} {where}" for where, count in self.dropped.items()) or "0"
        load = self.context.get("load_average")
        lines = [f"soak: {self.frames} frames after {self.warm_up} warm-up frames in {self.seconds:.0f} s "
                 f"({self.fps:.1f} frames/s); dropped frames: {dropped}"
                 + (f"; load average {load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} cores" if load else "")]
        rss = self.rss
        lines.append(f"RSS: start {rss.start_mb:.1f} MB, after warm-up {rss.warm_mb:.1f} MB, end {rss.end_mb:.1f} MB "
                     f"(peak {rss.peak_mb:.1f} MB, slope {rss.slope_mb_per_1000:+.2f} MB per 1000 frames): growth "
                     f"{rss.growth_pct:+.2f} % (target <= {RSS_GROWTH_LIMIT_PCT:g} %)  {_mark(rss.passed)}")
        lines.append(f"Python objects: {self.python_objects[0]} after warm-up, {self.python_objects[1]} at the end")
        for name, trend in self.trends.items():
            reading, passed = self.verdict(name)
            lines.append(
                f"{SERIES_TITLES.get(name, name)}: median {trend.median_ms:.2f} ms; slope "
                f"{trend.slope_ms_per_1000:+.3f} ms per 1000 frames (95 % CI {trend.slope_low:+.3f} .. "
                f"{trend.slope_high:+.3f}), {trend.rise_pct:+.1f} % over the run; first decile "
                f"{trend.first_decile_ms:.2f} ms, last decile {trend.last_decile_ms:.2f} ms "
                f"({trend.decile_change_pct:+.1f} %): {reading}  {_mark(passed)}")
        lines.append(f"soak {_mark(self.passed)} (targets: RSS growth <= {RSS_GROWTH_LIMIT_PCT:g} % after warm-up; "
                     f"no rise of >= {RISE_LIMIT_PCT:g} % that the slope, its interval and the deciles agree "
                     "on, where a wall-clock rise counts only if CPU time per frame rises too)")
        return lines


def publish(report: SoakReport, json_path: Path | None, **extra: Any) -> int:
    """Print the report, write it (with `extra` fields first) as JSON when asked; the exit status: 0 when every
    target was met, else 1, so that a script or CI can act on it."""
    print("\n".join(report.lines()))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({**extra, **report.to_dict()}, indent=2) + "\n")
    return 0 if report.passed else 1


def _mark(passed: bool) -> str:
    return "PASS" if passed else "FAIL"
