"""`kind: diagnostic` bindings: a read-only script run on firing without approval by the
real dispatcher and inline backend; its output lands on the alert's timeline and in chat
(a real loopback webhook), and it never counts as a remediation."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import create_app
from app.alerts.models import AlertEvent
from app.automation import service
from app.notify.sender import Sender
from tests.integration.automation.conftest import Automation
from tests.integration.dashboard.conftest import Web
from tests.integration.notify.conftest import Webhook
from tests.integration.notify.conftest import chat as chat  # noqa: F401  (a fixture)
from tests.integration.notify.conftest import mattermost as mattermost  # noqa: F401  (a fixture)
from tests.integration.notify.conftest import slack as slack  # noqa: F401  (a fixture)
from tests.integration.notify.conftest import webhook as webhook  # noqa: F401  (a fixture)
from tests.integration.notify.conftest import webhooks as webhooks  # noqa: F401  (a fixture)

SCRIPT = "#!/bin/sh\necho 'pool: 97 of 100 connections busy'\n"


def test_a_diagnostic_binding_runs_without_approval_and_its_output_reaches_timeline_and_chat(
    database: Any, tmp_path: Path, webhook: Webhook, config: Any, tokens: dict[str, str]
) -> None:  # noqa: F811
    auto = Automation(
        database,
        tmp_path,
        channels=[
            {
                "name": "ops",
                "type": "generic",
                "url": webhook.url,
                "secret": "0123456789abcdef-secret",
                "group_wait_s": 0,
                "events": ["diagnostic.output", "remediation.started", "remediation.succeeded", "approval.requested"],
            }
        ],
    )
    try:
        auto.register(script=SCRIPT)
        auto.bind(mode="approve", kind="diagnostic")  # approve is ignored: it only looks
        auto.fire()
        [run] = auto.wait_idle(timeout_s=60)
        assert (run.state, run.trigger, run.approved_by) == ("succeeded", "diagnostic", None)
        auto.resolve(auto.minute_now() + 1)
        Sender(database, auto.config.channels).run_once(auto.t0 + timedelta(days=365))
    finally:
        auto.backend.shutdown()
    with database.read() as session:
        [ran] = session.scalars(select(AlertEvent).where(AlertEvent.kind == "diagnostic.ran")).all()
        kinds = {e.kind for e in session.scalars(select(AlertEvent))}
        stats = service.stats(session, "fix")
        outcome = service.get_execution(session, run.id).outcome
    assert "97 of 100 connections busy" in ran.details["output"] and ran.details["remediation"] == "fix"
    assert "remediation.ran" not in kinds
    app = create_app(config)
    page = Web(app.test_client(), tokens).login("viewer").get(f"/alerts/{ran.alert_id}").text
    app.extensions["vigil.db"].dispose()
    assert "diagnostic.ran" in page and "97 of 100 connections busy" in page  # on the alert page's timeline
    [sent] = [r.json for r in webhook.received]
    assert sent["event"] == "diagnostic.output" and "97 of 100 connections busy" in str(sent["remediation"])
    # Never a remediation: not judged when the alert resolved, not in the remediation's stats.
    assert outcome is None
    assert (stats["runs"], stats["succeeded"], stats["judged"], stats["effective"]) == (0, 0, 0, 0)


def test_the_api_stores_the_kind_and_rejects_an_unknown_one(client: Any) -> None:
    admin = client.as_("admin")
    made = admin.post("/api/v1/bindings", json={"name": "look", "remediation": "fix", "kind": "diagnostic"})
    assert made.status_code == 201 and made.get_json()["kind"] == "diagnostic"
    assert admin.get("/api/v1/bindings").get_json()[0]["kind"] == "diagnostic"
    bad = admin.post("/api/v1/bindings", json={"name": "x", "remediation": "fix", "kind": "fixer"})
    assert bad.status_code == 400 and "kind" in str(bad.get_json()["errors"])


def test_a_diagnostic_scripts_output_is_a_reply_in_the_alerts_thread(
    chat: Any,
    slack: Any,  # noqa: F811
    mattermost: Any,
) -> None:  # noqa: F811
    chat.register("look", script=SCRIPT)
    chat.bind("show-pool", "look", "approve", kind="diagnostic")
    chat.alert("cpu")
    chat.settle()
    chat.send()
    assert slack.problems == [] and mattermost.problems == []
    for fake in (slack, mattermost):
        [root] = fake.roots()
        [reply] = fake.thread(root)  # no "remediating" update, no approval request: the output only
        assert reply.thread == root.ref and "97 of 100 connections busy" in reply.text
