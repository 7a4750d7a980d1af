"""POST /api/v1/alerts/<id>/unack: an operator takes an acknowledgement back, through the API
with real tokens, and the audit log says who did."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from app.alerts import service
from detectors.findings import Finding

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def report(app: Any, instance: str, state: str, minute: int = 0) -> None:
    with app.extensions["vigil.db"].write() as session:
        service.apply(
            session,
            detector="cpu",
            severity="warning",
            static_labels={},
            findings=[Finding(kind="threshold", labels={"instance": instance}, state=state, value=95.0)],
            now=T0 + timedelta(minutes=minute),
        )


def alert_id(client: Any, instance: str) -> int:
    items = client.as_("viewer").get(f"/api/v1/alerts?label=instance={instance}").json["items"]
    assert len(items) == 1
    return int(items[0]["id"])


def test_an_operator_takes_an_acknowledgement_back_and_it_is_audited(client: Any, app: Any) -> None:
    report(app, "a", "firing")
    number = alert_id(client, "a")
    assert client.as_("operator").post(f"/api/v1/alerts/{number}/ack", json={"comment": "mine"}).status_code == 200

    assert client.as_("viewer").post(f"/api/v1/alerts/{number}/unack").status_code == 403
    assert client.as_(None).post(f"/api/v1/alerts/{number}/unack").status_code == 401
    answer = client.as_("operator").post(f"/api/v1/alerts/{number}/unack")

    assert answer.status_code == 200
    assert answer.json["acked_at"] is None and answer.json["acked_by"] is None and answer.json["state"] == "firing"
    detail = client.as_("viewer").get(f"/api/v1/alerts/{number}").json
    assert [(e["kind"], e["actor"]) for e in detail["events"]][-2:] == [
        ("acked", "test-operator"),
        ("unacked", "test-operator"),
    ]
    audit = client.as_("viewer").get("/api/v1/audit?action=alert.unack").json["items"]
    assert [(r["actor"], r["target"]) for r in audit] == [("test-operator", f"alert:{number}")]
    # It can be acknowledged again, by someone else.
    again = client.as_("admin").post(f"/api/v1/alerts/{number}/ack", json={})
    assert again.status_code == 200 and again.json["acked_by"] == "test-admin"


def test_unack_of_an_alert_not_acknowledged_or_resolved_is_a_409_and_changes_nothing(client: Any, app: Any) -> None:
    report(app, "open", "firing")
    report(app, "closed", "firing")
    open_id, closed_id = alert_id(client, "open"), alert_id(client, "closed")
    operator = client.as_("operator")
    assert operator.post(f"/api/v1/alerts/{closed_id}/ack", json={}).status_code == 200
    report(app, "closed", "ok", minute=5)

    not_acked = operator.post(f"/api/v1/alerts/{open_id}/unack")
    resolved = operator.post(f"/api/v1/alerts/{closed_id}/unack")
    missing = operator.post("/api/v1/alerts/999999/unack")

    assert not_acked.status_code == 409 and "not acknowledged" in not_acked.json["message"]
    assert resolved.status_code == 409 and "resolved" in resolved.json["message"]
    assert missing.status_code == 404 and "999999" in missing.json["message"]
    closed = client.as_("viewer").get(f"/api/v1/alerts/{closed_id}").json
    assert closed["state"] == "resolved" and closed["acked_by"] == "test-operator", "the record keeps who acked"
    assert client.as_("viewer").get("/api/v1/audit?action=alert.unack").json["items"] == []
