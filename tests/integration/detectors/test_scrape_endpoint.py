"""The scrape source against a real exposition endpoint on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from config.schema import DetectorConfig, ScrapeSource
from detectors.pipeline import run
from detectors.sources import ScrapeClient, build_source

pytestmark = pytest.mark.slow
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_flipped_values_are_seen_and_rates_computed(serve_text):
    registry = CollectorRegistry()
    queue = Gauge("queue_depth", "Jobs waiting.", ["queue"], registry=registry)
    done = Counter("jobs", "Jobs done.", registry=registry)
    server = serve_text(lambda: generate_latest(registry))
    src = build_source(ScrapeSource.model_validate({"type": "scrape", "name": "app", "url": server.url}))
    assert isinstance(src, ScrapeClient)
    definition = DetectorConfig.model_validate(
        {
            "name": "backlog",
            "source": "app",
            "query": 'queue_depth{queue="mail"}',
            "analysis": {"type": "threshold", "above": 100, "for": "20s"},
            "window": "5m",
            "interval": "10s",
        }
    )
    states = []
    for i, depth in enumerate([5, 5, 500, 500, 500, 3]):
        queue.labels(queue="mail").set(depth)
        queue.labels(queue="sms").set(1)
        done.inc(10 * i)
        now = T0 + timedelta(seconds=10 * i)
        [finding] = run(definition, src, now=now).findings
        states.append(finding.state)
        src.fetch("rate(jobs_total)", start=now - timedelta(minutes=5), end=now, step_s=10)
    assert states == ["ok", "ok", "pending", "pending", "firing", "ok"]
    [mail] = src.fetch('queue_depth{queue="mail"}', start=T0, end=now, step_s=10)
    assert mail.values.tolist() == [5, 5, 500, 500, 500, 3]
    [rates] = src.fetch("rate(jobs_total)", start=T0, end=now, step_s=10)
    assert rates.values.tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
