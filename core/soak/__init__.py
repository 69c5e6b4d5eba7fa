"""Soak runs: over a long live run, does the process's memory grow and does latency creep up?

The targets (issue 9): resident memory (RSS) grows at most `RSS_GROWTH_LIMIT_PCT` from the end of warm-up to the
end of the run, and latency shows no trend. A `SoakRecorder` is fed by whoever drives the run (the headless
`python -m core bench-live --frames`, the scripted window run `python -m app.soak`) and makes a `SoakReport`.

Three series are followed (see `core.soak.stats` for what "no trend" means):

- `latency`: wall-clock milliseconds per frame (capture + pre-processing, inference, post-processing);
- `cpu`: CPU milliseconds the whole process spends per frame (every thread: capture, ONNX Runtime's, the UI);
- `ui` (window only): CPU milliseconds of the UI thread to show one batch of results.

On a shared machine wall-clock latency follows other users' load (measured here: block medians swinging between
40 and 107 ms within a minute while CPU time per frame stayed within 34-39 ms). CPU time does not wait for them
(it still moves with their load, by up to 16 % here: hence the 20 % limit), so a rise in wall-clock latency that
CPU time per frame does not show is reported as the machine's load, not failed; a rise in CPU time per frame (more
work per frame: a list scanned every frame, a cache that grows) fails.

Example:
    >>> recorder = SoakRecorder(frames=10_000, warm_up=500)
    >>> recorder.start()
    >>> for result in results:                                 # doctest: +SKIP
    ...     recorder.add(LATENCY, result.index, result.timings.total_ms)
    ...     recorder.add_cpu(result.index)
    ...     recorder.sample_rss(result.index)
    >>> publish(recorder.report(), json_path=None)             # doctest: +SKIP
"""

from core.soak.recorder import WARM_UP_FRAMES, SoakRecorder, live_objects, rss_mb
from core.soak.report import CPU, LATENCY, UI, SoakReport, publish
from core.soak.stats import (RISE_LIMIT_PCT, RSS_GROWTH_LIMIT_PCT, RssFigures, Trend, latency_trend, rss_figures,
                             theil_sen)

__all__ = [
    "CPU",
    "LATENCY",
    "RISE_LIMIT_PCT",
    "RSS_GROWTH_LIMIT_PCT",
    "UI",
    "WARM_UP_FRAMES",
    "RssFigures",
    "SoakRecorder",
    "SoakReport",
    "Trend",
    "latency_trend",
    "live_objects",
    "publish",
    "rss_figures",
    "rss_mb",
    "theil_sen",
]
