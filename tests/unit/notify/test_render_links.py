"""A received alert's links (runbook, source, dashboard) reach every chat message, and only
absolute http(s) ones: a javascript: or relative link is dropped, never sent."""

from __future__ import annotations

import json

import pytest

from app.alerts.links import alert_links, safe_url
from app.notify.render import render
from tests.unit.notify.notify_builders import ALL_TYPES, alert, notification

RUNBOOK = "https://runbooks.example/api-latency(v2)"
LINKS = (
    ("Runbook", RUNBOOK),
    ("Source", "http://prom.example/graph?g0.expr=up"),
    ("Bad", "javascript:alert(1)"),
    ("Relative", "/alerts/1"),
)


@pytest.mark.parametrize("channel", ALL_TYPES)
def test_every_channel_carries_the_runbook_and_source_links_but_no_unsafe_one(channel: str) -> None:
    body = json.dumps(render(channel, notification(alerts=[alert(links=LINKS)])), ensure_ascii=False)
    encoded = RUNBOOK.replace("(", "%28").replace(")", "%29")
    assert RUNBOOK in body or encoded in body
    assert "prom.example/graph" in body
    if channel != "generic":  # the generic body is data: it lists what the alert carries
        assert "javascript:" not in body and '"/alerts/1"' not in body


def test_links_are_read_from_a_received_alerts_evidence_runbook_first_without_repeats() -> None:
    evidence = {
        "generator_url": "https://prom.example/graph",
        "dashboard_url": "https://grafana.example/d/x",
        "annotations": {
            "runbook_url": "https://runbooks.example/a",
            "summary": "high",
            "wiki_link": "https://wiki.example/page",
            "other": "https://prom.example/graph",
            "bad": "javascript:alert(1)",
            "spaced": "https://a.example/x y",
        },
    }
    assert alert_links(evidence) == [
        ("Runbook", "https://runbooks.example/a"),
        ("Source", "https://prom.example/graph"),
        ("Dashboard", "https://grafana.example/d/x"),
        ("Wiki", "https://wiki.example/page"),
    ]
    assert alert_links(None) == [] and alert_links({"annotations": "not a dict"}) == []


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT://x",
        "data:text/html,x",
        "//evil.example",
        "/relative",
        'https://a.example/"onmouseover',
        "https://a.example/\nx",
        "ftp://a.example/",
        "https://" + "a" * 2000,
    ],
)
def test_unsafe_urls_are_not_links(url: str) -> None:
    assert safe_url(url) is None


def test_http_and_https_urls_are_links() -> None:
    assert safe_url("HTTPS://Grafana.example/d/abc?orgId=1&viewPanel=2") is not None
    assert safe_url("http://10.0.0.1:3000/alerting/grafana/abc/view") is not None
