"""Secrets configured everywhere, every path exercised, everything grepped: none leaks into
API answers, error messages, logs, audit records, /metrics or stored delivery errors."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from app import create_app
from app.alerts import service as alerts
from app.audit.models import AuditRecord
from app.logformat import JsonFormatter
from app.notify.models import OutboxMessage
from app.notify.sender import Sender
from app.reactions import react
from detectors.findings import Finding
from tests.conftest import make_config
from tests.helpers import Client, free_port
from tests.integration.automation.conftest import Automation

SECRETS = {
    "slack_path": "T00SLACKPATHs3cr3t",
    "hmac": "generic-hmac-s3cr3t-value-0001",
    "ingest": "ingest-token-s3cr3t-0002",
    "bearer": "prom-bearer-s3cr3t-0003",
    "password": "prom-password-s3cr3t-0004",
    "script_env": "script-env-s3cr3t-0005",
}


def test_no_secret_appears_in_answers_logs_audit_metrics_or_errors(
    tmp_path, database_url, database, tokens, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    dead = f"http://127.0.0.1:{free_port()}"
    config = make_config(
        tmp_path,
        database_url,
        sources=[
            {
                "name": "prom",
                "type": "prometheus",
                "url": dead,
                "bearer_token": SECRETS["bearer"],
                "basic_auth": {"username": "vigil", "password": SECRETS["password"]},
            }
        ],
        detectors=[{"name": "up", "source": "prom", "query": "up", "analysis": {"type": "threshold", "above": 1}}],
        channels=[
            {"name": "slack", "type": "slack", "url": f"{dead}/services/{SECRETS['slack_path']}", "group_wait_s": 0},
            {"name": "hook", "type": "generic", "url": f"{dead}/hook", "secret": SECRETS["hmac"], "group_wait_s": 0},
        ],
        ingest={"alertmanager": {"token": SECRETS["ingest"]}},
    )
    app = create_app(config)
    client = Client(app.test_client(), tokens)
    seen: list[str] = []

    def call(method: str, url: str, **kw: Any) -> Any:
        answer = client.open(url, method=method, **kw)
        seen.append(answer.get_data(as_text=True))
        return answer

    call("GET", "/api/v1/channels")
    assert call("POST", "/api/v1/channels/slack/test").json["ok"] is False
    call("POST", "/api/v1/channels/hook/test")
    assert call("GET", "/api/v1/detectors/up/preview").json["error"]
    call("POST", "/api/v1/ingest/alertmanager", headers={"Authorization": "Bearer wrong"}, json={})

    auto = Automation(database, tmp_path)
    auto.dispatcher.environ = {"API_KEY": SECRETS["script_env"]}
    auto.register(script='#!/bin/sh\ntest -n "$API_KEY" && echo has key\n', allowed_env=["API_KEY"])
    auto.bind()
    now = datetime.now(timezone.utc)
    with database.write() as session:
        transitions = alerts.apply(
            session,
            detector="cpu",
            severity="critical",
            static_labels={},
            findings=[Finding(kind="threshold", labels={"i": "a"}, state="firing")],
            now=now,
        )
        react(session, transitions, now=now, config=config)
    auto.dispatcher.dispatch()
    [execution] = auto.wait_idle()
    auto.backend.shutdown()
    assert "has key" in execution.output  # the script got its secret...
    Sender(database, config.channels).run_once(datetime(2100, 1, 1, tzinfo=timezone.utc))

    for url in (
        "/api/v1/executions",
        f"/api/v1/executions/{execution.id}",
        "/api/v1/notifications",
        "/api/v1/audit",
        "/api/v1/detectors",
        "/api/v1/alerts",
        "/metrics",
        "/api/v1/swagger.json",
    ):
        call("GET", url)
    from tests.integration.dashboard.conftest import Web

    web = Web(app.test_client(), tokens).login("admin")
    for url in (
        "/alerts",
        "/detectors",
        "/remediations",
        "/executions",
        f"/executions/{execution.id}",
        "/audit",
        "/detectors/up/preview.json",
    ):
        seen.append(web.get(url).get_data(as_text=True))
    with database.read() as session:
        stored = [str(r.details) for r in session.scalars(select(AuditRecord))]
        stored += [str(r.last_error) + str(r.payload) for r in session.scalars(select(OutboxMessage))]
    assert any(r for r in stored if "Connection" in r or "connect" in r.lower()), "delivery errors were recorded"
    # Every record as the JSON formatter writes it: fields passed with extra= are not in caplog.text.
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    haystacks = {
        "answers": "\n".join(seen),
        "logs": caplog.text + logged,
        "stored": "\n".join(stored),
        "config repr": repr(config),
    }
    leaks = [(where, name) for where, text in haystacks.items() for name, secret in SECRETS.items() if secret in text]
    assert leaks == []
