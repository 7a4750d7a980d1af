"""Reports (page, API, CSV), CSV exports of the lists and the notification outbox with retry."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from app.alerts import service as alerts
from app.audit.models import AuditRecord
from app.automation.models import Execution
from app.db import utcnow
from app.notify.models import OutboxMessage
from app.reports import service as reports
from detectors.findings import Finding
from tests.conftest import make_config
from tests.helpers import Client
from tests.integration.dashboard.conftest import Web, World


def _rows(answer: Any) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def _raise(
    database: Any,
    detector: str,
    labels: dict[str, str],
    *,
    hours_ago: float,
    severity: str = "warning",
    resolve_after_s: float | None = None,
    ack_after_s: float | None = None,
) -> int:
    at = utcnow() - timedelta(hours=hours_ago)
    with database.write() as s:
        finding = Finding("threshold", labels, "firing", value=99.0, threshold=90.0, message=f"{detector} high")
        alert_id = alerts.apply(s, detector=detector, severity=severity, static_labels={}, findings=[finding], now=at)[
            0
        ].alert_id
        if ack_after_s is not None:
            alerts.acknowledge(s, alert_id=alert_id, by="ops", now=at + timedelta(seconds=ack_after_s))
        if resolve_after_s is not None:
            ok = Finding("threshold", labels, "ok", value=1.0, threshold=90.0, message="ok")
            alerts.apply(
                s,
                detector=detector,
                severity=severity,
                static_labels={},
                findings=[ok],
                now=at + timedelta(seconds=resolve_after_s),
            )
    return alert_id


def test_the_report_counts_alerts_per_bucket_and_means_the_response_times(database: Any) -> None:
    _raise(database, "disk", {"i": "1"}, hours_ago=2, resolve_after_s=600, ack_after_s=60)
    _raise(database, "disk", {"i": "2"}, hours_ago=3, resolve_after_s=1200, ack_after_s=180, severity="critical")
    _raise(database, "cpu", {"i": "3"}, hours_ago=5)
    _raise(database, "cpu", {"i": "4"}, hours_ago=30)  # outside the last 24 hours
    with database.read() as s:
        r = reports.report(s, reports.period("24h", utcnow()))
    a = r["alerts"]
    assert a["total"] == 3 and len(r["t"]) == 24 and r["bucket_s"] == 3600
    assert sum(a["by_severity"]["critical"]) == 1 and sum(a["by_severity"]["warning"]) == 2
    assert a["mtta_s"] == 120.0 and a["mttr_s"] == 900.0 and a["acked"] == 2 and a["resolved"] == 2
    assert [d["detector"] for d in r["detectors"]] == ["disk", "cpu"]
    assert r["detectors"][0]["share"] == round(2 / 3, 4) and r["detectors"][1]["mttr_s"] is None


def test_the_report_shows_remediation_success_and_stored_verdicts(database: Any, world: World) -> None:
    now = utcnow()
    with database.write() as s:
        for state, outcome in (
            ("succeeded", "effective"),
            ("succeeded", "not_effective"),
            ("failed", None),
            ("succeeded", "not_applicable"),
        ):
            s.add(
                Execution(
                    remediation="fix",
                    version=1,
                    version_hash="h",
                    state=state,
                    trigger="alert",
                    triggered_by="system",
                    params={},
                    queued_at=now,
                    started_at=now,
                    finished_at=now,
                    outcome=outcome,
                    output="",
                )
            )
        s.add(
            Execution(
                remediation="fix",
                version=1,
                version_hash="h",
                state="succeeded",
                trigger="diagnostic",
                triggered_by="system",
                params={},
                queued_at=now,
                finished_at=now,
                output="",
            )
        )
    with database.read() as s:
        r = reports.report(s, reports.period("7d", now))
    rem = r["remediations"]
    assert rem["total_runs"] == 4 and rem["total_succeeded"] == 3  # the diagnostic run is not a remediation
    assert rem["success"] == 0.75 and rem["effectiveness"] == 0.5  # 1 effective of 2 judged
    assert r["remediation_table"][0] == {
        "remediation": "fix",
        "runs": 4,
        "succeeded": 3,
        "effective": 1,
        "not_effective": 1,
        "not_applicable": 1,
        "success_rate": 0.75,
        "effectiveness_rate": 0.5,
    }


def test_the_reports_page_api_and_csv_agree(web: Web, client: Client, database: Any) -> None:
    _raise(database, "disk", {"i": "1"}, hours_ago=1, resolve_after_s=300)
    api = client.as_("viewer").get("/api/v1/reports?range=24h")
    assert api.status_code == 200 and api.json["alerts"]["total"] == 1 and api.json["range"] == "24h"
    assert client.as_(None).get("/api/v1/reports").status_code == 401
    bad = client.as_("viewer").get("/api/v1/reports?range=1y")
    assert bad.status_code == 400 and "range" in bad.json["errors"]
    web.login("viewer")
    page = web.get("/reports?range=24h")
    assert page.status_code == 200 and 'id="report-data"' in page.text and "disk" in page.text
    assert web.get("/reports?range=1y").status_code == 400
    rows = _rows(web.get("/reports/detectors.csv?range=24h"))
    assert rows[0][:2] == ["detector", "alerts"] and rows[1][:2] == ["disk", "1"]
    volume = _rows(web.get("/reports/volume.csv?range=24h"))
    assert len(volume) == 25 and sum(int(r[2]) for r in volume[1:]) == 1  # warning column
    assert web.get("/reports/nothing.csv").status_code == 404


def test_csv_exports_follow_the_list_filters_and_defuse_formulas(web: Web, database: Any, world: World) -> None:
    _raise(database, '=HYPERLINK("http://evil")', {"team": "+db", "host": "@h"}, hours_ago=1)
    _raise(database, "cpu", {"team": "web"}, hours_ago=1, severity="critical")
    web.login("viewer")
    rows = _rows(web.get("/alerts.csv?labels=team%3D%2Bdb"))
    header, body = rows[0], rows[1:]
    assert len(body) == 1
    record = dict(zip(header, body[0]))
    assert record["detector"].startswith("'=HYPERLINK") and '"team": "+db"' in record["labels"]
    assert record["labels"].startswith("{")  # JSON text, not a formula
    critical = _rows(web.get("/alerts.csv?severity=critical"))
    assert len(critical) == 2 and critical[1][1] == "cpu"
    assert web.get("/alerts.csv?state=exploded").status_code == 400
    executions = _rows(web.get(f"/executions.csv?alert_id={world.alert_id}"))
    assert len(executions) == 2 and executions[1][0] == str(world.execution_id)
    audit = _rows(web.get("/audit.csv?action=remediation.register"))
    assert len(audit) == 2 and audit[1][3] == "remediation.register"
    assert web.get("/audit.csv?since=2026-02-01&until=2026-01-01").status_code == 400


def test_a_csv_export_pages_through_everything_up_to_the_cap(web: Web, database: Any, monkeypatch: Any) -> None:
    from app.reports import csvstream

    monkeypatch.setattr(csvstream, "PAGE_ROWS", 7)
    for i in range(25):
        _raise(database, f"det-{i}", {"i": str(i)}, hours_ago=1)
    web.login("viewer")
    rows = _rows(web.get("/alerts.csv"))
    ids = [int(r[0]) for r in rows[1:]]
    assert len(ids) == 25 and ids == sorted(ids, reverse=True)
    monkeypatch.setattr(csvstream, "MAX_ROWS", 10)
    capped = _rows(web.get("/alerts.csv"))
    assert len(capped) == 11
    rest = _rows(web.get(f"/alerts.csv?cursor={capped[-1][0]}"))
    assert int(rest[1][0]) == int(capped[-1][0]) - 1


def _outbox(database: Any, state: str, **extra: Any) -> int:
    now = utcnow()
    with database.write() as s:
        row = OutboxMessage(
            channel=extra.pop("channel", "ops"),
            event="alert.firing",
            group_key="g",
            alert_id=None,
            severity="warning",
            payload={},
            state=state,
            attempts=extra.pop("attempts", 3),
            created_at=now - timedelta(hours=2),
            not_before=now - timedelta(hours=1),
            give_up_at=now - timedelta(minutes=1),
            **extra,
        )
        s.add(row)
        s.flush()
        return row.id


def _with_channel(tmp_path: Any, database_url: str) -> Any:
    from app import create_app

    config = make_config(
        tmp_path,
        database_url,
        channels=[
            {"name": "ops", "type": "generic", "url": "http://127.0.0.1:9/hook", "secret": "0123456789abcdef-secret"}
        ],
    )
    return create_app(config)


def test_an_operator_retries_a_failed_notification_from_the_page_and_the_api(
    tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    app = _with_channel(tmp_path, database_url)
    try:
        failed = _outbox(database, "failed", last_status=500, last_error="HTTP 500: upstream down")
        sent = _outbox(database, "sent", sent_at=utcnow())
        gone = _outbox(database, "failed", channel="removed", last_error="the channel is no longer configured")
        web = Web(app.test_client(), tokens).login("viewer")
        page = web.get("/notifications?state=failed")
        assert page.status_code == 200 and "upstream down" in page.text and f"notification-{sent}" not in page.text
        assert "Retry" not in page.text  # a viewer sees no action
        assert web.post(f"/notifications/{failed}/retry").status_code == 403
        web = Web(app.test_client(), tokens).login("operator")
        answer = web.post(f"/notifications/{failed}/retry", {"next": "/notifications?state=failed"})
        assert answer.status_code == 302 and answer.headers["Location"] == "/notifications?state=failed"
        with database.read() as s:
            row = s.get(OutboxMessage, failed)
            assert row.state == "pending" and row.give_up_at > utcnow() + timedelta(minutes=50)
            record = s.query(AuditRecord).filter(AuditRecord.action == "notification.retry").one()
            assert record.actor == "test-operator" and record.target == f"notification:{failed}"
        conflict = web.post(f"/notifications/{sent}/retry")
        assert conflict.status_code == 302  # back to the list with the reason
        assert "only a failed one can be retried" in web.get("/notifications").text
        api = Client(app.test_client(), tokens)
        assert api.as_("viewer").post(f"/api/v1/notifications/{gone}/retry").status_code == 403
        refused = api.as_("operator").post(f"/api/v1/notifications/{gone}/retry")
        assert refused.status_code == 409 and "no longer configured" in refused.json["message"]
        assert api.as_("operator").post("/api/v1/notifications/999999/retry").status_code == 404
        with database.write() as s:
            s.get(OutboxMessage, failed).state = "failed"
        again = api.as_("operator").post(f"/api/v1/notifications/{failed}/retry")
        assert again.status_code == 200 and again.json["state"] == "pending"
        rows = _rows(web.get("/notifications.csv?channel=ops"))
        assert {r[0] for r in rows[1:]} == {str(failed), str(sent)}
    finally:
        app.extensions["vigil.db"].dispose()


def test_each_list_links_its_csv_with_the_current_filters(web: Web, world: World) -> None:
    web.login("viewer")
    assert 'href="/alerts.csv?severity=critical"' in web.get("/alerts?severity=critical").text
    assert 'href="/audit.csv?actor=seed"' in web.get("/audit?actor=seed").text
    assert 'href="/executions.csv?state=queued"' in web.get("/executions?state=queued").text
    assert 'href="/notifications.csv?state=failed"' in web.get("/notifications?state=failed").text
