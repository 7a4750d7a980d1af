"""Shadow bindings decide live like auto, record would-runs, never run, and are promoted with an audit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.models import AuditRecord
from app.notify.models import OutboxMessage
from app.rehearsal import service as rehearsal
from config.schema import BindingConfig
from tests.integration.automation.conftest import Automation

CHANNEL = {"name": "chat", "type": "generic", "url": "http://127.0.0.1:9/hook", "secret": "s3cret-s3cret-s3cret-s3cret"}
SPEC = {"name": "b", "remediation": "fix", "mode": "shadow", "cooldown": "10m", "rate_limit": 2, "rate_window": "1h"}


def _record(auto: Automation, marker: Path) -> None:
    auto.register("fix", f"#!/bin/sh\ntouch {marker}\n")
    auto.bind(mode="shadow", cooldown="10m", rate_limit=2, rate_window="1h")
    for minute, instance, state in [
        (1, "web-1", "firing"),
        (2, "web-1", "ok"),
        (3, "web-1", "firing"),
        (4, "web-2", "firing"),
        (5, "web-3", "firing"),
    ]:
        auto.fire(minute, state=state, labels={"instance": instance})
    auto.dispatcher.dispatch()


def test_it_records_would_runs_without_running_or_notifying_and_promotion_is_audited(
    database: Any, tmp_path: Path, client: Any
) -> None:
    marker = tmp_path / "ran"
    auto = Automation(database, tmp_path, channels=[CHANNEL])
    try:
        _record(auto, marker)
        rows = auto.wait_idle()
    finally:
        auto.backend.shutdown(wait=True)
    assert [r.state for r in rows] == ["shadow", "skipped", "shadow", "skipped"]
    assert rows[0].reason == "shadow: would run (all checks passed)"
    assert "cooldown" in rows[1].reason and "rate limit" in rows[3].reason  # would-runs count, as auto's runs
    assert not marker.exists()
    with database.read() as session:
        events = session.scalars(select(OutboxMessage.event)).all()
    assert events and not [e for e in events if e.startswith(("remediation.", "approval."))]

    period = {"since": "1d", "until": (auto.t0 + timedelta(hours=1)).isoformat()}  # alerts fired ahead of now
    report = client.as_("viewer").get("/api/v1/bindings/1/shadow-report", query_string=period)
    assert report.status_code == 200, report.get_json()
    body = report.get_json()
    assert body["summary"]["runs"] == 2 and body["summary"]["skipped_by_guard"] == {"cooldown": 1, "rate_limit": 1}
    # A rehearsal of the same spec has the same shape and the same decisions.
    with database.read() as session:
        rehearsed = rehearsal.decisions(
            session,
            BindingConfig.model_validate(SPEC),
            since=auto.t0 - timedelta(minutes=1),
            until=auto.t0 + timedelta(hours=1),
        )
    assert [(d.alert_id, d.reason) for d in rehearsed] == [(r.alert_id, r.reason) for r in rows]

    assert client.as_("operator").post("/api/v1/bindings/1/promote").status_code == 403
    promoted = client.as_("admin").post("/api/v1/bindings/1/promote", query_string=period)
    assert promoted.status_code == 200 and promoted.get_json()["mode"] == "auto"
    with database.read() as session:
        record = session.scalars(select(AuditRecord).where(AuditRecord.action == "binding.promote")).one()
    assert record.details["shadow_report"]["runs"] == 2 and record.details["to"] == "auto"
    again = client.as_("admin").post("/api/v1/bindings/1/promote")
    assert again.status_code == 409 and "mode" in again.get_json()["errors"]
