"""Inbound webhooks through the API, then processing into the alert lifecycle."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import func, select

from app import create_app
from app.alerts.models import Alert, AlertEvent
from app.automation.models import Execution
from app.db import utcnow
from app.ingest import service
from app.ingest.models import InboxItem
from tests.conftest import make_config
from tests.helpers import Client

TOKEN = "am-ingest-token-0123456789"
SECRET = "generic-hmac-secret-0123456789"


def am_alert(status: str = "firing", instance: str = "web-1", starts: str = "2026-11-01T12:00:00Z", **labels):
    return {
        "status": status,
        "labels": {"alertname": "HighLatency", "severity": "page", "instance": instance, **labels},
        "annotations": {"summary": f"latency high on {instance}"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prom.local/graph",
        "fingerprint": "abc123",
    }


def am_payload(*alerts, status: str = "firing"):
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighLatency"}',
        "status": status,
        "receiver": "vigil",
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am.local",
        "truncatedAlerts": 0,
        "alerts": list(alerts),
    }


@pytest.fixture
def ingest(tmp_path, database_url, database, tokens):
    config = make_config(
        tmp_path, database_url, ingest={"alertmanager": {"token": TOKEN}, "generic": {"hmac_secret": SECRET}}
    )
    app = create_app(config)
    return Client(app.test_client(), tokens, role=None), config


def post_am(client, payload, token=TOKEN):
    return client.post("/api/v1/ingest/alertmanager", json=payload, headers={"Authorization": f"Bearer {token}"})


def process(database, config) -> int:
    with database.write() as session:
        return service.process(session, config, now=utcnow())[0]


def alerts(database) -> list[Alert]:
    with database.read() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def test_alertmanager_alerts_enter_the_lifecycle_firing_then_resolved(ingest, database) -> None:
    client, config = ingest
    answer = post_am(client, am_payload(am_alert(), am_alert(instance="web-2")))
    assert answer.status_code == 202 and answer.json == {"received": 2, "new": 2}
    assert process(database, config) == 2
    fired = alerts(database)
    assert [(a.state, a.severity, a.source, a.detector) for a in fired] == [
        ("firing", "critical", "alertmanager", "HighLatency")
    ] * 2
    assert fired[0].evidence["generator_url"] == "http://prom.local/graph"
    assert fired[0].message == "latency high on web-1"
    post_am(client, am_payload(am_alert("resolved"), status="resolved"))
    process(database, config)
    assert [a.state for a in alerts(database)] == ["resolved", "firing"]
    viewer = client.as_("viewer")
    found = viewer.get("/api/v1/alerts?label=instance=web-2&label=alertname=HighLatency").json["items"]
    assert [a["labels"]["instance"] for a in found] == ["web-2"], "external alerts are found by their labels"


def test_the_same_notification_twice_changes_nothing(ingest, database) -> None:
    client, config = ingest
    payload = am_payload(am_alert())
    assert post_am(client, payload).json["new"] == 1
    assert post_am(client, payload).json == {"received": 1, "new": 0}  # HA pair / retry
    process(database, config)
    post_am(client, am_payload(am_alert("resolved"), status="resolved"))
    process(database, config)
    post_am(client, payload)  # a late redelivery of the old firing must not reopen it
    process(database, config)
    assert [a.state for a in alerts(database)] == ["resolved"]
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(AlertEvent)) == 2  # firing, resolved


def test_a_partly_invalid_batch_is_rejected_whole_naming_the_field(ingest, database) -> None:
    client, _ = ingest
    bad = am_alert()
    bad["status"] = "exploding"
    answer = post_am(client, am_payload(am_alert(), bad))
    assert answer.status_code == 400
    assert "alerts[1].status" in answer.json["errors"] and "nothing was stored" in answer.json["message"]
    no_labels = am_alert()
    no_labels["labels"] = {}
    assert "alerts[0].labels" in post_am(client, am_payload(no_labels)).json["errors"]
    assert post_am(client, {"version": "4"}).status_code == 400
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 0


def test_unauthenticated_calls_get_401_and_are_counted(ingest) -> None:
    client, _ = ingest
    assert post_am(client, am_payload(am_alert()), token="wrong").status_code == 401
    assert client.post("/api/v1/ingest/alertmanager", json=am_payload(am_alert())).status_code == 401
    assert (
        client.post(
            "/api/v1/ingest/grafana", json=am_payload(am_alert()), headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 401
    )  # not configured
    metrics = client.get("/metrics").data.decode()
    assert 'vigil_ingest_rejected_total{reason="bad_credentials",source="alertmanager"}' in metrics


def signed(body: bytes, secret: str = SECRET, stamp: int | None = None) -> dict[str, str]:
    stamp = stamp or int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Vigil-Timestamp": str(stamp),
        "X-Vigil-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }


def test_the_generic_endpoint_takes_an_hmac_signature_and_refuses_replays(ingest, database) -> None:
    client, config = ingest
    body = json.dumps(
        {
            "alerts": [
                {
                    "name": "disk",
                    "status": "firing",
                    "labels": {"host": "db1"},
                    "severity": "critical",
                    "summary": "disk 95%",
                    "value": 95,
                }
            ]
        }
    ).encode()
    assert client.post("/api/v1/ingest/generic", data=body, headers=signed(body)).status_code == 202
    old = signed(body, stamp=int(time.time()) - 3600)
    assert client.post("/api/v1/ingest/generic", data=body, headers=old).status_code == 401
    assert (
        client.post("/api/v1/ingest/generic", data=body, headers=signed(body, "wrong-secret-000000")).status_code == 401
    )
    process(database, config)
    [alert] = alerts(database)
    assert (alert.detector, alert.value, alert.source) == ("disk", 95.0, "generic")


def test_an_ingested_alert_runs_its_bound_remediation(ingest, database, tmp_path) -> None:
    from tests.integration.automation.conftest import Automation

    client, config = ingest
    auto = Automation(database, tmp_path)
    try:
        auto.register()
        auto.bind(detector="HighLatency", params={"who": "{{ labels.instance }}"})
        post_am(client, am_payload(am_alert()))
        with database.write() as session:
            assert service.process(session, config, now=utcnow()) == (1, 1)
        auto.dispatcher.dispatch()
        [execution] = auto.wait_idle()
    finally:
        auto.backend.shutdown()
    assert execution.state == "succeeded" and '"who": "web-1"' in execution.output


def test_silences_guard_rails_and_effect(ingest, database, tmp_path) -> None:
    client, config = ingest
    op = client.as_("operator")
    no_comment = op.post(
        "/api/v1/silences",
        json={"matchers": [{"name": "instance", "value": "web-1"}], "comment": " ", "duration": "1h"},
    )
    assert no_comment.status_code == 400 and "comment" in no_comment.json["errors"]
    everything = op.post(
        "/api/v1/silences",
        json={"matchers": [{"name": "job", "op": "=~", "value": ".*"}], "comment": "all", "duration": "1h"},
    )
    assert everything.status_code == 400 and "matches everything" in everything.json["errors"]["matchers"]
    too_long = op.post(
        "/api/v1/silences", json={"matchers": [{"name": "a", "value": "b"}], "comment": "x", "duration": "30d"}
    )
    assert too_long.status_code == 400
    assert client.as_("viewer").post("/api/v1/silences", json={}).status_code == 403
    created = op.post(
        "/api/v1/silences",
        json={
            "matchers": [
                {"name": "alertname", "value": "HighLatency"},
                {"name": "instance", "op": "=~", "value": "web-.*"},
            ],
            "comment": "maintenance",
            "duration": "1h",
        },
    )
    assert created.status_code == 201 and created.json["created_by"] == "test-operator"
    assert (
        client.as_("admin")
        .post("/api/v1/silences", json={"matchers": [], "comment": "freeze", "duration": "1h"})
        .status_code
        == 201
    )

    from tests.integration.automation.conftest import Automation

    auto = Automation(database, tmp_path)
    auto.register()
    auto.bind(detector="HighLatency")
    post_am(client, am_payload(am_alert()))
    process(database, config)
    auto.backend.shutdown()
    [alert] = alerts(database)
    assert alert.state == "firing", "silenced alerts are still recorded"
    with database.read() as session:
        [execution] = session.scalars(select(Execution)).all()
        kinds = [e.kind for e in session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id))]
    assert execution.state == "skipped" and execution.reason.startswith("skipped: silenced by silence")
    assert "silenced" in kinds
    expired = op.delete(f"/api/v1/silences/{created.json['id']}")
    assert expired.status_code == 200 and not expired.json["active"]
    assert op.delete(f"/api/v1/silences/{created.json['id']}").status_code == 409
    active = client.as_("viewer").get("/api/v1/silences?active=true").json["items"]
    assert [s["comment"] for s in active] == ["freeze"]
