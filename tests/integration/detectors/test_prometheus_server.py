"""The Prometheus client and pipeline against a real Prometheus on loopback."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from config.schema import DetectorConfig, PrometheusSource
from detectors.errors import SourceError
from detectors.pipeline import run
from detectors.sources import PrometheusClient, build_source
from tests.helpers import free_port

pytestmark = pytest.mark.slow


def client(url: str, **kw) -> PrometheusClient:
    src = build_source(PrometheusSource.model_validate({"type": "prometheus", "name": "prom", "url": url, **kw}))
    assert isinstance(src, PrometheusClient)
    return src


def now() -> datetime:
    return datetime.now(timezone.utc)  # tests talk to a live server; analysis code never reads the clock


def latest(url: str, series: str) -> float:
    end = now()
    got = client(url).fetch(
        f'vigil_test_value{{series="{series}"}}', start=end - timedelta(seconds=5), end=end, step_s=1
    )
    return float(got[0].values.iloc[-1])


def test_query_range_returns_every_series_with_its_labels_and_values(prometheus_url):
    end = now()
    got = client(prometheus_url).fetch("vigil_test_value", start=end - timedelta(seconds=10), end=end, step_s=1)
    by_series = {s.labels["series"]: s for s in got}
    assert sorted(by_series) == ["a", "b", "c"]
    assert by_series["a"].labels == {
        "__name__": "vigil_test_value",
        "series": "a",
        "job": "exporter",
        "instance": by_series["a"].labels["instance"],
    }
    assert by_series["a"].values.iloc[-1] == 1.5 and by_series["b"].values.iloc[-1] == 2.5
    assert np.isnan(by_series["c"].values.iloc[-1])  # Prometheus answers "NaN"
    index = by_series["a"].values.index
    assert str(index.tz) == "UTC" and index.is_monotonic_increasing and 2 <= len(index) <= 11


def test_new_values_show_up_and_a_detector_fires_on_them(prometheus_url, exporter):
    exporter.value.labels(series="b").set(97.2)
    deadline = time.monotonic() + 60
    while latest(prometheus_url, "b") != 97.2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert latest(prometheus_url, "b") == 97.2, "Prometheus never scraped the new value"
    definition = DetectorConfig.model_validate(
        {
            "name": "hot",
            "source": "prom",
            "query": "vigil_test_value",
            "analysis": {"type": "threshold", "above": 90},
            "window": "30s",
            "interval": "10s",
            "step": "1s",
        }
    )
    result = run(definition, client(prometheus_url), now=now())
    states = {f.labels["series"]: f.state for f in result.findings}
    assert result.error is None and states == {"a": "ok", "b": "firing", "c": "ok"}
    exporter.value.labels(series="b").set(2.5)


def test_a_bad_query_is_a_permanent_error_carrying_prometheus_text(prometheus_url):
    end = now()
    with pytest.raises(SourceError) as info:
        client(prometheus_url).fetch("vigil_test_value{", start=end - timedelta(seconds=10), end=end, step_s=1)
    message = str(info.value)
    assert message.startswith('prometheus source "prom": query_range returned HTTP 400 (bad_data: ')
    assert "parse error" in message and info.value.permanent


def test_a_prometheus_that_is_down_is_a_transient_error():
    end = now()
    with pytest.raises(SourceError, match="connection refused") as info:
        # free_port() closes its socket on return: nothing listens there.
        client(f"http://127.0.0.1:{free_port()}").fetch("up", start=end, end=end, step_s=1)
    assert not info.value.permanent


def test_more_series_than_max_series_is_refused(prometheus_url):
    end = now()
    with pytest.raises(SourceError, match="returned 3 series, more than max_series 2"):
        client(prometheus_url, max_series=2).fetch(
            "vigil_test_value", start=end - timedelta(seconds=5), end=end, step_s=1
        )


def test_ranges_over_11000_points_are_chunked_without_gaps_or_repeats(prometheus_url):
    history = client(prometheus_url)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # every step of a 12 s range needs a sample before it
        [count] = history.query('count_over_time(vigil_test_value{series="a"}[1m])', at=now())
        if count.values.iloc[0] >= 14:
            break
        time.sleep(1)
    end = now().replace(microsecond=0)
    # 12 s at 1 ms steps = 12,001 evaluations: Prometheus refuses that in one request
    [s] = history.fetch('vigil_test_value{series="a"}', start=end - timedelta(seconds=12), end=end, step_s=0.001)
    assert s.points == 12_001
    assert np.all(np.diff(s.values.index.asi8) == 1_000_000)  # one step apart, across the chunk seam


def test_the_instant_query_helper_reads_the_current_value(prometheus_url):
    [s] = client(prometheus_url).query('vigil_test_value{series="a"}', at=now())
    assert s.points == 1 and s.values.iloc[0] == 1.5
