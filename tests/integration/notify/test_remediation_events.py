from datetime import timedelta

from app.automation import service
from app.notify.sender import Sender
from tests.integration.automation.conftest import T0, Automation


def test_approval_requests_and_remediation_results_reach_chat(database, tmp_path, webhook) -> None:
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
                "events": ["approval.requested", "remediation.succeeded"],
            }
        ],
    )
    try:
        auto.register(script="#!/bin/sh\necho restarted nginx\n")
        auto.bind(mode="approve")
        auto.fire()
        [waiting] = auto.wait_idle()
        with database.write() as session:
            service.approve(session, execution_id=waiting.id, by="alice", now=T0)
        auto.wait_idle()
        Sender(database, auto.config.channels).run_once(T0 + timedelta(days=365))
    finally:
        auto.backend.shutdown()
    events = [r.json["event"] for r in webhook.received]
    assert sorted(events) == ["approval.requested", "remediation.succeeded"]
    done = next(r.json for r in webhook.received if r.json["event"] == "remediation.succeeded")
    assert "restarted nginx" in str(done["remediation"]) and done["remediation"]["name"] == "fix"
