"""Messages about one alert reach each channel in event order, whatever group_wait holds back."""

from __future__ import annotations

from datetime import timedelta

from app.notify.sender import Sender
from tests.integration.automation.conftest import Automation


def _channels(generic_url: str, slack_url: str) -> list[dict[str, object]]:
    # Default group_wait (10 s) on alert events; remediation events have none.
    return [
        {"name": "bridge", "type": "generic", "url": generic_url, "secret": "0123456789abcdef-secret"},
        {"name": "ops", "type": "slack", "url": slack_url},
    ]


def _drain(sender: Sender, at, passes: int = 5) -> None:
    for _ in range(passes):
        sender.run_once(at)


def test_remediation_and_approval_messages_wait_for_their_alerts_firing_message(database, tmp_path, webhooks) -> None:
    generic, slack = webhooks(), webhooks()
    auto = Automation(database, tmp_path, channels=_channels(generic.url, slack.url))
    try:
        auto.register(name="fix", script="#!/bin/sh\necho fixed\n")
        auto.register(name="ask", script="#!/bin/sh\necho asked\n")
        auto.bind()
        with database.write() as session:
            from app.automation import bindings
            from config.schema import BindingConfig

            bindings.create(
                session,
                spec=BindingConfig.model_validate({"name": "b2", "remediation": "ask", "mode": "approve"}),
                by="test",
                now=auto.t0,
            )
        auto.fire()
        auto.wait_idle()
        sender = Sender(database, auto.config.channels)
        _drain(sender, auto.t0 + timedelta(seconds=1))  # within group_wait: nothing may overtake "Firing"
        assert generic.received == [] and slack.received == []
        _drain(sender, auto.t0 + timedelta(seconds=11))
    finally:
        auto.backend.shutdown()
    order = [r.json["event"] for r in generic.received]
    assert order[0] == "alert.firing"
    assert sorted(order[1:]) == ["approval.requested", "remediation.started", "remediation.succeeded"]
    assert order.index("remediation.started") < order.index("remediation.succeeded")
    titles = [r.json["text"] for r in slack.received]
    assert titles[0].endswith("Firing: cpu") and len(titles) == 4


def test_a_row_that_failed_for_good_no_longer_holds_back_the_next(database, tmp_path, webhooks) -> None:
    generic, slack = webhooks(), webhooks()
    generic.answer(status=400, body=b"bad")  # the firing message is refused for good
    auto = Automation(database, tmp_path, channels=_channels(generic.url, slack.url))
    try:
        auto.register(script="#!/bin/sh\necho fixed\n")
        auto.bind()
        auto.fire()
        auto.wait_idle()
        _drain(Sender(database, auto.config.channels), auto.t0 + timedelta(seconds=11))
    finally:
        auto.backend.shutdown()
    assert [r.json["event"] for r in generic.received] == [
        "alert.firing",
        "remediation.started",
        "remediation.succeeded",
    ]
