"""Builders for notification tests: each sets only what a test is about.

Imported as `tests.unit.notify.notify_builders` by both unit and integration tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.notify.messages import AlertItem, Notification, RemediationInfo

NOW = datetime(2024, 5, 1, 12, 8, 0, tzinfo=timezone.utc)
ALL_TYPES = ("slack", "mattermost", "teams", "discord", "googlechat", "generic", "apprise")


def alert(**kw: Any) -> AlertItem:
    fields: dict[str, Any] = {
        "alert_id": 42,
        "detector": "api-latency",
        "severity": "critical",
        "state": "firing",
        "labels": {"job": "api", "instance": "10.0.0.1:9090"},
        "started_at": NOW - timedelta(minutes=5),
        "value": 0.934,
        "threshold": 0.8,
        "message": "p99 latency above threshold",
        "url": "https://vigil.example/alerts/42",
    }
    fields.update(kw)
    return AlertItem(**fields)


def remediation(**kw: Any) -> RemediationInfo:
    fields: dict[str, Any] = {
        "name": "restart-api",
        "version": 3,
        "outcome": "failed",
        "duration_s": 12.3,
        "output_tail": "restarting api\nerror: unit api.service not found\n",
        "execution_id": 7,
        "url": "https://vigil.example/executions/7",
    }
    fields.update(kw)
    return RemediationInfo(**fields)


def notification(**kw: Any) -> Notification:
    fields: dict[str, Any] = {
        "event": "alert.firing",
        "title": "[FIRING] api-latency",
        "severity": "critical",
        "created_at": NOW,
        "alerts": [alert()],
        "remediation": None,
    }
    fields.update(kw)
    return Notification(**fields)


def grouped(count: int, **kw: Any) -> Notification:
    """One detector's alerts over `count` label sets."""
    alerts = [alert(alert_id=i, labels={"instance": f"10.0.{i // 256}.{i % 256}:9090"}) for i in range(count)]
    return notification(alerts=alerts, **kw)


def worst_case() -> Notification:
    """Everything as big as it gets: 500 alerts with huge labels, and megabytes of output."""
    huge = "x" * 5000
    alerts = [
        alert(
            alert_id=i,
            labels={"instance": f"{i}-{huge}", "emoji": "😀" * 3000},
            message="m" * 10_000,
            detector="d" * 300,
            change_points=[f"2024-05-01 12:0{j}:00" for j in range(10)],
        )
        for i in range(500)
    ]
    output = "😀 boom `x` <b> & ```\n" * 200_000
    return notification(
        event="remediation.failed",
        title="T" * 1000,
        alerts=alerts,
        remediation=remediation(output_tail=output, name="n" * 300),
    )
