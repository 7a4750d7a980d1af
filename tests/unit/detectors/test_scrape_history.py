"""The ring of every series a scrape source keeps for diagnoses without queries."""

from __future__ import annotations

import numpy as np

from config.schema import DetectorConfig, ScrapeSource
from detectors.diagnosis.signals import scrape_history_for
from detectors.sources.scrape import ScrapeHistory


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def by_labels(series):  # noqa: ANN001, ANN201
    return {tuple(sorted(s.labels.items())): s for s in series}


def test_it_keeps_every_series_and_forgets_the_oldest_scrapes_past_its_capacity() -> None:
    ring = ScrapeHistory(span_s=50, spacing_s=10, max_series=10)
    assert ring.capacity == 6
    for k in range(9):
        ring.record({key("temp", room="a"): float(k), key("temp", room="b"): 100.0 + k}, set(), 1000.0 + 10 * k)
    series, dropped = ring.series(0, 10_000)
    found = by_labels(series)
    a = found[(("__name__", "temp"), ("room", "a"))]
    assert dropped == 0 and len(series) == 2
    assert a.t_s.tolist() == [1030.0, 1040.0, 1050.0, 1060.0, 1070.0, 1080.0] and a.v.tolist() == [3, 4, 5, 6, 7, 8]
    window, _ = ring.series(1045, 1065)
    assert by_labels(window)[(("__name__", "temp"), ("room", "b"))].v.tolist() == [105.0, 106.0]


def test_scrapes_closer_than_the_spacing_are_not_kept() -> None:
    ring = ScrapeHistory(span_s=100, spacing_s=10, max_series=10)
    for t in (0.0, 4.0, 10.0, 19.0, 20.0):
        ring.record({key("up"): t}, set(), t)
    [up], _ = ring.series(-1, 100)
    assert up.t_s.tolist() == [0.0, 10.0, 20.0]


def test_counters_come_as_rates_and_a_missing_series_is_a_gap() -> None:
    ring = ScrapeHistory(span_s=100, spacing_s=1, max_series=10)
    for k, total in enumerate([0, 10, 20, 5, 15]):  # a reset after 20
        samples = {key("req_total", code="200"): float(total)}
        if k != 2:
            samples[key("temp")] = 20.0 + k
        ring.record(samples, {"req_total"}, 10.0 * k)
    found = by_labels(ring.series(0, 100)[0])
    rates = found[(("__name__", "req_total"), ("code", "200"))]
    assert rates.t_s.tolist() == [10, 20, 30, 40] and rates.v.tolist() == [1.0, 1.0, 0.5, 1.0]
    assert np.isnan(found[(("__name__", "temp"),)].v[2])


def test_series_beyond_max_series_are_dropped_and_counted_and_absent_ones_are_freed() -> None:
    ring = ScrapeHistory(span_s=20, spacing_s=10, max_series=300)  # 3 columns
    first = {key("g", i=str(i)): 1.0 for i in range(400)}
    ring.record(first, set(), 0)
    assert ring.dropped == 100 and len(ring.series(0, 100)[0]) == 300
    for t in (10, 20, 30, 40, 50):  # the first 300 are gone for a whole lap: their rows are freed
        ring.record({key("h", i=str(i)): 2.0 for i in range(50)}, set(), t)
        assert ring.dropped == 50  # no row is free yet
    later = {**{key("g", i=str(i)): 3.0 for i in range(300, 400)}, **{key("h", i=str(i)): 2.0 for i in range(50)}}
    ring.record(later, set(), 60)
    names = {s.labels["__name__"] for s in ring.series(60, 60)[0]}
    assert ring.dropped == 0 and names == {"g", "h"} and len(ring.series(60, 60)[0]) == 150


def test_it_is_sized_by_the_diagnoses_that_read_the_source_without_queries() -> None:
    source = ScrapeSource.model_validate({"type": "scrape", "name": "app", "url": "http://127.0.0.1:1/metrics"})
    common = {"source": "app", "query": "up", "analysis": {"type": "threshold", "above": 1}}
    detectors = [
        DetectorConfig.model_validate(
            {"name": "a", **common, "diagnose": {"lookback": "30m", "after": "5m", "max_signals": 800}}
        ),
        DetectorConfig.model_validate(
            {"name": "b", **common, "diagnose": {"lookback": "1h", "after": "0s", "queries": ["up"]}}
        ),
        DetectorConfig.model_validate({"name": "c", **common}),
    ]
    ring = scrape_history_for(source, detectors)
    assert ring is not None and ring.spacing_s == 6 and ring.max_series == 800
    assert ring.capacity == int(np.ceil(1.5 * 2100 / 6)) + 1  # lookback + after with 1.5x slack
    assert scrape_history_for(source, detectors[1:]) is None  # with queries it reads like a detector
