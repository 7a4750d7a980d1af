"""/metrics gauges read from the database at scrape time: alerts firing by severity, the
outbox backlog, and each configured detector's last successful run."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from app import create_app
from app.alerts.models import Alert
from app.db import utcnow
from app.detection.models import DetectorStatus
from app.notify.models import OutboxMessage
from tests.conftest import make_config


def _value(body: str, series: str) -> float:
    found = re.search(rf"^{re.escape(series)} (\S+)$", body, re.M)
    assert found, f"{series} not in /metrics"
    return float(found.group(1))


def _alert(i: int, severity: str, state: str) -> Alert:
    now = utcnow()
    return Alert(
        fingerprint=f"f{i}",
        detector="api",
        source="detector",
        labels={},
        severity=severity,
        state=state,
        kind="threshold",
        started_at=now,
        last_seen_at=now,
    )


@pytest.fixture(params=["one process", "gunicorn multiprocess"])
def scrape(request: Any, tmp_path: Any, database: Any, database_url: str, monkeypatch: Any) -> Any:
    if request.param == "gunicorn multiprocess":
        (tmp_path / "prom").mkdir()
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))
    config = make_config(
        tmp_path,
        database_url,
        sources=[{"type": "host", "name": "h"}],
        detectors=[
            {"name": name, "source": "h", "query": "cpu_percent", "analysis": {"type": "threshold", "above": 90}}
            for name in ("api", "disk")
        ],
    )
    app = create_app(config)
    yield lambda: app.test_client().get("/metrics").get_data(as_text=True)
    app.extensions["vigil.db"].dispose()


def test_it_counts_firing_alerts_by_severity_with_every_severity_present(scrape, database) -> None:
    with database.write() as session:
        session.add_all(
            [
                _alert(1, "critical", "firing"),
                _alert(2, "critical", "firing"),
                _alert(3, "warning", "firing"),
                _alert(4, "info", "resolved"),
                _alert(5, "info", "pending"),
            ]
        )
    body = scrape()
    assert _value(body, 'vigil_alerts_firing{severity="critical"}') == 2
    assert _value(body, 'vigil_alerts_firing{severity="warning"}') == 1
    assert _value(body, 'vigil_alerts_firing{severity="info"}') == 0


def test_it_reports_the_outbox_backlog_and_its_oldest_age(scrape, database) -> None:
    assert _value(scrape(), "vigil_outbox_pending") == 0
    assert _value(scrape(), "vigil_outbox_oldest_pending_age_seconds") == 0
    now = utcnow()
    with database.write() as session:
        for ago_s, state in ((300, "pending"), (40, "sending"), (900, "sent"), (5000, "failed")):
            at = now - timedelta(seconds=ago_s)
            session.add(
                OutboxMessage(
                    channel="ops",
                    event="alert.firing",
                    group_key="g",
                    severity="warning",
                    payload={},
                    state=state,
                    attempts=0,
                    created_at=at,
                    not_before=at,
                    give_up_at=at + timedelta(hours=1),
                )
            )
    body = scrape()
    assert _value(body, "vigil_outbox_pending") == 2
    assert 300 <= _value(body, "vigil_outbox_oldest_pending_age_seconds") < 360


def test_it_gives_each_configured_detector_its_last_successful_run(scrape, database) -> None:
    ok_at = utcnow() - timedelta(minutes=3)
    with database.write() as session:
        session.add(DetectorStatus(name="api", last_ok_at=ok_at, runs_total=1, errors_total=0))
        session.add(DetectorStatus(name="removed-from-config", last_ok_at=ok_at, runs_total=1, errors_total=0))
    body = scrape()
    assert _value(body, 'vigil_detector_last_success_timestamp_seconds{detector="api"}') == pytest.approx(
        ok_at.timestamp(), abs=0.01
    )
    assert 'detector="removed-from-config"' not in body
    assert 'vigil_detector_last_success_timestamp_seconds{detector="disk"}' not in body  # never succeeded
