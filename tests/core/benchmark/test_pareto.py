"""The Pareto front on hand-made records: domination on accuracy and every cost, ties, failed cells and missing
values, and other choices of accuracy and costs."""

from __future__ import annotations

import pytest
from benchmark_testkit import make_record

from core.benchmark.pareto import pareto_front
from core.benchmark.values import value


def cell(name: str, f1: float | None, latency: float | None, memory: float | None, **extra: object) -> dict:
    record = make_record(f1=f1, latency_fp32=latency, memory_mb=memory, **extra)  # type: ignore[arg-type]
    record["name"] = name
    return record


def test_a_cell_beaten_on_every_axis_is_off_the_front() -> None:
    records = [cell("fast", 0.4, 2.0, 8.0), cell("small", 0.4, 9.0, 1.0), cell("best", 0.7, 20.0, 30.0),
               cell("dominated", 0.35, 10.0, 9.0), cell("worse-by-one", 0.4, 2.0, 8.5)]
    assert pareto_front(records) == {"fast", "small", "best"}


def test_ties_stay_on_the_front_and_equal_accuracy_is_won_on_cost() -> None:
    records = [cell("twin-a", 0.5, 3.0, 3.0), cell("twin-b", 0.5, 3.0, 3.0), cell("same-f1-slower", 0.5, 4.0, 3.0)]
    assert pareto_front(records) == {"twin-a", "twin-b"}


def test_failed_cells_and_missing_values_are_not_ranked() -> None:
    # The failed and the incomplete cells would dominate everything were they ranked with made-up values.
    records = [cell("kept", 0.5, 5.0, 5.0), make_record(status="failed"), cell("no-f1", None, 1.0, 1.0),
               cell("no-latency", 0.9, None, 1.0), cell("no-memory", 0.9, 1.0, None)]
    records[1]["name"] = "failed"
    assert pareto_front(records) == {"kept"}
    assert pareto_front([]) == set()
    assert pareto_front([make_record(status="failed")]) == set()


def test_nan_is_missing_not_a_number() -> None:
    records = [cell("nan", float("nan"), 1.0, 1.0), cell("real", 0.1, 9.0, 9.0)]
    assert pareto_front(records) == {"real"}


def test_accuracy_and_costs_can_be_chosen() -> None:
    records = [cell("int8-fast", 0.5, 10.0, 5.0, latency_int8=1.0, image_auroc=0.8),
               cell("fp32-fast", 0.5, 1.0, 5.0, latency_int8=4.0, image_auroc=0.8),
               cell("accurate", 0.1, 50.0, 5.0, latency_int8=50.0, image_auroc=0.99)]
    assert pareto_front(records) == {"fp32-fast"}  # pixel F1 by default: "accurate" is accurate per image only
    assert pareto_front(records, costs=("latency_int8", "memory_mb")) == {"int8-fast"}
    assert pareto_front(records, accuracy="image_auroc") == {"fp32-fast", "accurate"}
    assert pareto_front(records, accuracy="image_auroc", costs=("memory_mb",)) == {"accurate"}
    # No cost at all: only accuracy counts.
    assert pareto_front(records, costs=()) == {"int8-fast", "fp32-fast"}


def test_values_are_read_by_flat_name_and_an_unknown_name_is_refused() -> None:
    record = make_record(latency_int8=None)
    assert value(record, "latency_fp32") == 10.0 and value(record, "latency_int8") is None
    assert value(record, "pixel_f1_max") == 0.5 and value(record, "inference_macs") == 3e8
    assert value(make_record(status="failed"), "memory_mb") is None
    with pytest.raises(KeyError, match="unknown benchmark value 'speed'"):
        value(record, "speed")
