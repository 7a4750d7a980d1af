"""The outbox end to end: events -> rows -> sender -> a real webhook receiver on loopback."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from app.alerts import service as alerts
from app.notify.models import OutboxMessage
from app.notify.sender import Sender
from app.reactions import react
from config.loader import from_dict
from detectors.findings import Finding

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def make_config(url: str, **channel: Any):
    return from_dict(
        {
            "settings": {"public_url": "https://vigil.example"},
            "channels": [
                {"name": "ops", "type": "slack", "url": url, "group_wait_s": "10s", "give_up_after_s": "1h", **channel}
            ],
        },
        {},
    )


def fire(database, config, instances, *, state: str = "firing", at: datetime = T0) -> None:
    with database.write() as session:
        findings = [
            Finding(
                kind="threshold",
                labels={"instance": i},
                state=state,
                value=97.0,
                threshold=90.0,
                message=f"cpu 97 > 90 on {i}",
            )
            for i in instances
        ]
        transitions = alerts.apply(
            session, detector="cpu", severity="critical", static_labels={}, findings=findings, now=at
        )
        react(session, transitions, now=at, config=config)


def rows(database) -> list[OutboxMessage]:
    with database.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_burst_from_one_detector_is_one_message_after_group_wait(database, webhook) -> None:
    config = make_config(webhook.url)
    sender = Sender(database, config.channels)
    fire(database, config, [f"web-{i}" for i in range(5)])
    assert sender.run_once(T0 + timedelta(seconds=5)) == 0, "waits group_wait for the rest of the burst"
    assert sender.run_once(T0 + timedelta(seconds=11)) == 1
    [message] = webhook.received
    text = str(message.json)
    assert all(f"web-{i}" in text for i in range(5)) and "https://vigil.example/alerts/" in text
    assert {r.state for r in rows(database)} == {"sent"}
    fire(database, config, ["web-0"], state="ok", at=T0 + timedelta(minutes=1))
    sender.run_once(T0 + timedelta(minutes=2))
    assert len(webhook.received) == 2 and "Resolved" in str(webhook.received[1].json)


def test_a_500_is_retried_with_backoff_and_sent_once(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    sender = Sender(database, config.channels)
    webhook.answer(500)
    fire(database, config, ["a"])
    sender.run_once(T0)
    [row] = rows(database)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
    assert row.not_before > T0
    assert sender.run_once(row.not_before - timedelta(milliseconds=1)) == 0
    sender.run_once(row.not_before)
    sender.run_once(row.not_before + timedelta(hours=1))
    [row] = rows(database)
    assert (row.state, row.attempts) == ("sent", 2)
    assert len(webhook.received) == 2


def test_retry_after_on_429_is_honoured(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    webhook.answer(429, headers={"Retry-After": "120"})
    fire(database, config, ["a"])
    Sender(database, config.channels).run_once(T0)
    [row] = rows(database)
    assert row.state == "pending" and row.not_before >= T0 + timedelta(seconds=120)


def test_it_gives_up_after_the_configured_time_and_says_why(database, webhook, client=None) -> None:
    config = make_config(webhook.url, group_wait_s="0s", give_up_after_s="30s")
    sender = Sender(database, config.channels)
    fire(database, config, ["a"])
    now = T0
    for _ in range(10):
        webhook.answer(503)
        sender.run_once(now)
        now += timedelta(seconds=20)
    [row] = rows(database)
    assert row.state == "failed" and row.last_status == 503
    assert row.last_error and webhook.url not in row.last_error and "s3cr3t" not in row.last_error


def test_a_permanent_4xx_fails_at_once(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    webhook.answer(404)
    fire(database, config, ["a"])
    Sender(database, config.channels).run_once(T0)
    assert [(r.state, r.attempts) for r in rows(database)] == [("failed", 1)]


def test_rows_left_mid_send_by_a_crash_are_delivered_after_restart(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    fire(database, config, ["a", "b"])
    crashed = Sender(database, config.channels)
    assert crashed._claim("ops", T0)  # claimed, then the process died before sending
    assert {r.state for r in rows(database)} == {"sending"}
    restarted = Sender(database, config.channels)
    assert restarted.recover() == 2
    restarted.run_once(T0)
    restarted.run_once(T0 + timedelta(hours=1))
    assert len(webhook.received) == 1 and {r.state for r in rows(database)} == {"sent"}


def test_a_message_sent_again_after_a_crash_carries_the_same_idempotency_key(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    fire(database, config, ["a"])
    crashed = Sender(database, config.channels)
    crashed._finish = lambda *args: None  # the process dies after the send, before recording it
    crashed.run_once(T0)
    restarted = Sender(database, config.channels)
    assert restarted.recover() == 1
    restarted.run_once(T0)
    [row] = rows(database)
    first, second = webhook.received
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == str(row.id)
    assert row.state == "sent"


def test_rows_of_a_channel_no_longer_configured_fail_at_takeover_saying_why(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    fire(database, config, ["a"])
    assert Sender(database, []).recover() == 0  # the next configuration has no channel "ops"
    [row] = rows(database)
    assert (row.state, row.last_error) == ("failed", "the channel is no longer configured")


def test_a_grouped_message_is_keyed_by_its_first_row_and_its_size(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s")
    fire(database, config, ["a", "b", "c"])
    Sender(database, config.channels).run_once(T0)
    [message] = webhook.received
    assert message.headers["Idempotency-Key"] == f"{rows(database)[0].id}.3"


def test_channels_filter_by_severity_and_labels(database, webhook) -> None:
    config = make_config(webhook.url, min_severity="critical", matchers={"instance": "~db-.*"})
    fire(database, config, ["web-1", "db-1"])
    assert [r.payload["alert"]["labels"]["instance"] for r in rows(database)] == ["db-1"]


def test_the_api_masks_channel_urls_and_the_test_message_reaches_the_channel(
    tmp_path, database_url, database, tokens, webhook
) -> None:
    from app import create_app
    from tests.conftest import make_config as app_config
    from tests.helpers import Client

    config = app_config(tmp_path, database_url, channels=[{"name": "ops", "type": "discord", "url": webhook.url}])
    client = Client(create_app(config).test_client(), tokens)
    listed = client.as_("viewer").get("/api/v1/channels").json
    assert listed[0]["url"] == "**********" and "s3cr3t" not in str(listed)
    assert client.as_("viewer").post("/api/v1/channels/ops/test").status_code == 403
    result = client.as_("operator").post("/api/v1/channels/ops/test").json
    assert result == {"ok": True, "status": 200, "error": None}
    assert webhook.received[0].json["allowed_mentions"] == {"parse": []}
    assert client.as_("operator").post("/api/v1/channels/nope/test").status_code == 404


def test_after_a_long_outage_every_message_is_delivered_once(database, webhook) -> None:
    config = make_config(webhook.url, group_wait_s="0s", give_up_after_s="1h")
    sender = Sender(database, config.channels)
    for detector in range(5):  # five separate messages
        with database.write() as session:
            transitions = alerts.apply(
                session,
                detector=f"d{detector}",
                severity="critical",
                static_labels={},
                findings=[Finding(kind="threshold", labels={"i": "x"}, state="firing")],
                now=T0,
            )
            react(session, transitions, now=T0, config=config)
    now = T0
    for _ in range(200):  # ten minutes of a dead webhook, seen by a sender polling every few seconds
        for _ in range(5):
            webhook.answer(503)
        sender.run_once(now)
        webhook.replies.clear()
        now += timedelta(seconds=3)
    assert {r.state for r in rows(database)} == {"pending"}, "nothing given up or lost during the outage"
    failed_attempts = len(webhook.received)
    for _ in range(100):  # the webhook is back
        sender.run_once(now)
        now += timedelta(seconds=30)
    delivered = webhook.received[failed_attempts:]
    assert {r.state for r in rows(database)} == {"sent"}
    assert sorted(str(m.json) for m in delivered) == sorted(set(str(m.json) for m in delivered))
    assert len(delivered) == 5


def test_a_still_firing_alert_is_repeated_after_the_repeat_interval(database, webhook) -> None:
    from app.notify import service as notify_service

    config = make_config(webhook.url, group_wait_s="0s", repeat_interval_s="1h")
    sender = Sender(database, config.channels)
    fire(database, config, ["a"])
    sender.run_once(T0)
    with database.write() as session:
        assert notify_service.enqueue_repeats(session, config, now=T0 + timedelta(minutes=30)) == 0
        assert notify_service.enqueue_repeats(session, config, now=T0 + timedelta(minutes=61)) == 1
    sender.run_once(T0 + timedelta(minutes=61))
    fire(database, config, ["a"], state="ok", at=T0 + timedelta(minutes=62))
    with database.write() as session:  # resolved: no more reminders
        assert notify_service.enqueue_repeats(session, config, now=T0 + timedelta(hours=5)) == 0
    assert len(webhook.received) == 2
