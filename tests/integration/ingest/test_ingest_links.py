"""A Grafana alert keeps everything it carries: annotations, runbook, source, dashboard and
panel links; they are searchable, fold into an incident, and reach the chat message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app import create_app
from app.alerts.links import alert_links
from app.alerts.models import Alert
from app.db import utcnow
from app.ingest import service
from app.notify.models import OutboxMessage
from tests.conftest import make_config
from tests.helpers import Client

TOKEN = "grafana-ingest-token-0123456789"


def grafana_payload() -> dict[str, Any]:
    return {
        "receiver": "vigil",
        "status": "firing",
        "orgId": 1,
        "version": "1",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "DiskFull", "instance": "db-1", "severity": "critical"},
                "annotations": {
                    "summary": "disk 97% full",
                    "description": "volume /var/lib/postgresql on db-1",
                    "runbook_url": "https://runbooks.example/disk-full",
                    "escalation": "javascript:alert(1)",
                },
                "startsAt": "2026-11-01T12:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://grafana.example/alerting/grafana/abc/view",
                "fingerprint": "f00d",
                "silenceURL": "https://grafana.example/alerting/silence/new",
                "dashboardURL": "https://grafana.example/d/xyz",
                "panelURL": "https://grafana.example/d/xyz?viewPanel=4",
                "values": {"A": 97.2},
                "valueString": "[ var='A' labels={} value=97.2 ]",
            }
        ],
    }


def test_a_grafana_alert_keeps_its_annotations_and_links(
    tmp_path: Any, database_url: str, database: Any, tokens: dict[str, str]
) -> None:
    config = make_config(
        tmp_path,
        database_url,
        ingest={"grafana": {"token": TOKEN}},
        channels=[{"name": "ops", "type": "slack", "url": "https://hooks.slack.example/x"}],
    )
    client = Client(create_app(config).test_client(), tokens, role=None)
    answer = client.post("/api/v1/ingest/grafana", json=grafana_payload(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code in (200, 202), answer.json
    with database.write() as s:
        service.process(s, config, now=utcnow())
    with database.read() as s:
        alert = s.scalar(select(Alert))
        assert (
            alert is not None and alert.evidence["annotations"]["description"] == "volume /var/lib/postgresql on db-1"
        )
        assert alert_links(alert.evidence) == [
            ("Runbook", "https://runbooks.example/disk-full"),
            ("Source", "https://grafana.example/alerting/grafana/abc/view"),
            ("Dashboard", "https://grafana.example/d/xyz"),
            ("Panel", "https://grafana.example/d/xyz?viewPanel=4"),
        ]
        assert alert.incident_id is not None
        outbox = s.scalar(select(OutboxMessage))
        assert (
            outbox is not None and ["Runbook", "https://runbooks.example/disk-full"] in outbox.payload["alert"]["links"]
        )
    found = client.as_("viewer").get("/api/v1/alerts?q=postgresql").json["items"]
    assert [a["id"] for a in found] == [alert.id]
