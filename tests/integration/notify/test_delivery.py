"""Delivering rendered notifications to a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from slack_sdk.models.blocks import Block

from app.notify.delivery import Delivery
from app.notify.render import render
from app.notify.transport import next_attempt_at, send
from config.channels import parse_channel
from tests.helpers import free_port
from tests.unit.notify.notify_builders import NOW, grouped, notification, remediation

SECRET = "hmac-key-0123456789abcdef"
SECRET_PARTS = ("s3cr3tWebhookT0ken", "/services/T0001/B0002", SECRET)


def channel(kind: str, url: str, **kw: Any) -> Any:
    raw: dict[str, Any] = {"type": kind, "name": "ops", "url": url}
    if kind == "generic":
        raw["secret"] = SECRET
    raw.update(kw)
    return parse_channel(raw)


def assert_no_secret(delivery: Delivery, url: str) -> None:
    assert delivery.error
    for secret in (url, *SECRET_PARTS):
        assert secret not in delivery.error


def check_slack(body: dict[str, Any]) -> None:
    assert body["text"]
    for block in body["blocks"]:
        Block.parse(block).validate_json()


def check_mattermost(body: dict[str, Any]) -> None:
    assert body["attachments"][0]["color"].startswith("#")


def check_teams(body: dict[str, Any]) -> None:
    card = body["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["version"] == "1.4"


def check_discord(body: dict[str, Any]) -> None:
    assert body["allowed_mentions"] == {"parse": []}


def check_googlechat(body: dict[str, Any]) -> None:
    assert body["cardsV2"][0]["card"]["sections"]


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("slack", check_slack),
        ("mattermost", check_mattermost),
        ("teams", check_teams),
        ("discord", check_discord),
        ("googlechat", check_googlechat),
    ],
)
def test_each_service_receives_its_rendered_body_as_utf8_json(webhook, kind, check):
    body = render(kind, grouped(40, event="remediation.failed", remediation=remediation()))
    delivery = send(channel(kind, webhook.url), body, now=NOW)
    assert delivery == Delivery(ok=True, status=200)
    (received,) = webhook.received
    assert received.path == "/services/T0001/B0002/s3cr3tWebhookT0ken"
    assert received.headers["Content-Type"] == "application/json; charset=utf-8"
    assert received.json == body
    check(received.json)


def test_a_teams_workflow_answering_202_accepted_is_a_success(webhook):
    webhook.answer(202, b"")
    assert send(channel("teams", webhook.url), render("teams", notification()), now=NOW).ok


def verify(headers: dict[str, str], raw: bytes, secret: str, now_s: float) -> bool:
    """An independent receiver-side check, as the transport docstring tells receivers to do."""
    stamp = headers["X-Vigil-Timestamp"]
    if abs(now_s - int(stamp)) > 300:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Vigil-Signature"])


def test_generic_deliveries_are_signed_over_timestamp_and_raw_body(webhook):
    delivery = send(channel("generic", webhook.url), render("generic", notification()), now=NOW)
    assert delivery.ok
    (received,) = webhook.received
    assert received.headers["X-Vigil-Timestamp"] == str(int(NOW.timestamp()))
    assert verify(received.headers, received.body, SECRET, NOW.timestamp())
    assert received.json["sent_at"] == "2024-05-01T12:08:00+00:00"
    assert received.json["event"] == "alert.firing"


def test_the_idempotency_key_is_a_header_and_a_signed_field_of_generic_bodies(webhook):
    send(channel("generic", webhook.url), render("generic", notification()), now=NOW, idempotency_key="41")
    send(channel("slack", webhook.url), render("slack", notification()), now=NOW, idempotency_key="42")
    generic, slack = webhook.received
    assert generic.headers["Idempotency-Key"] == "41" and generic.json["idempotency_key"] == "41"
    assert verify(generic.headers, generic.body, SECRET, NOW.timestamp())
    assert slack.headers["Idempotency-Key"] == "42" and "idempotency_key" not in slack.json


def test_a_receiver_rejects_a_tampered_body_a_wrong_key_or_an_old_timestamp(webhook):
    send(channel("generic", webhook.url), render("generic", notification()), now=NOW)
    (received,) = webhook.received
    assert not verify(received.headers, received.body.replace(b"critical", b"info"), SECRET, NOW.timestamp())
    assert not verify(received.headers, received.body, "another-key-0123456789", NOW.timestamp())
    assert not verify(received.headers, received.body, SECRET, NOW.timestamp() + 301)


def test_a_429_is_retried_after_the_seconds_it_asks_for(webhook):
    webhook.answer(429, b"rate limited", {"Retry-After": "30"})
    delivery = send(channel("discord", webhook.url), render("discord", notification()), now=NOW)
    assert (delivery.ok, delivery.status, delivery.retry_after_s, delivery.permanent) == (False, 429, 30.0, False)
    assert next_attempt_at(delivery, 1, NOW, rng=random.Random(1)) == NOW + timedelta(seconds=30)


def test_a_429_may_give_retry_after_as_an_http_date(webhook):
    webhook.answer(429, b"", {"Retry-After": format_datetime(NOW + timedelta(seconds=90), usegmt=True)})
    delivery = send(channel("slack", webhook.url), render("slack", notification()), now=NOW)
    assert delivery.retry_after_s == 90.0 and not delivery.permanent


@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_and_408_are_transient(webhook, status):
    webhook.answer(status, b"try later")
    delivery = send(channel("slack", webhook.url), render("slack", notification()), now=NOW)
    assert (delivery.ok, delivery.status, delivery.permanent) == (False, status, False)
    assert delivery.error == f'slack channel "ops" answered HTTP {status}: try later'


@pytest.mark.parametrize("status", [400, 403, 404, 410])
def test_other_client_errors_are_permanent(webhook, status):
    webhook.answer(status, b"invalid_blocks")
    delivery = send(channel("slack", webhook.url), render("slack", notification()), now=NOW)
    assert (delivery.ok, delivery.status, delivery.permanent) == (False, status, True)
    assert "invalid_blocks" in (delivery.error or "")


def test_a_404_page_echoing_the_webhook_path_is_redacted(webhook):
    webhook.answer(404, b"<h1>Not found: /services/T0001/B0002/s3cr3tWebhookT0ken</h1>")
    delivery = send(channel("slack", webhook.url), render("slack", notification()), now=NOW)
    assert delivery.permanent and "[redacted]" in (delivery.error or "")
    assert_no_secret(delivery, webhook.url)


def test_a_redirect_is_not_followed_and_is_permanent(webhook):
    webhook.answer(302, b"", {"Location": webhook.url + "/elsewhere"})
    delivery = send(channel("mattermost", webhook.url), render("mattermost", notification()), now=NOW)
    assert (delivery.ok, delivery.status, delivery.permanent) == (False, 302, True)
    assert len(webhook.received) == 1


def test_a_receiver_slower_than_the_timeout_is_a_transient_failure(webhook):
    webhook.answer(200, b"ok", delay_s=5)
    started = time.monotonic()
    delivery = send(channel("slack", webhook.url, timeout_s=0.3), render("slack", notification()), now=NOW)
    assert time.monotonic() - started < 3
    assert (delivery.ok, delivery.status, delivery.permanent) == (False, None, False)
    assert delivery.error == 'timed out after 0.3s sending to slack channel "ops"'
    assert_no_secret(delivery, webhook.url)


def test_a_refused_connection_is_transient_and_does_not_name_the_url():
    url = f"http://127.0.0.1:{free_port()}/services/T0001/B0002/s3cr3tWebhookT0ken"
    delivery = send(channel("teams", url), render("teams", notification()), now=NOW)
    assert (delivery.ok, delivery.permanent) == (False, False)
    assert delivery.error == 'ConnectionError to teams channel "ops"'
    assert_no_secret(delivery, url)


def test_a_delivery_failing_twice_then_accepted_takes_three_attempts(webhook):
    webhook.answer(503)
    webhook.answer(429, headers={"Retry-After": "1"})
    ops, body, rng = channel("discord", webhook.url), render("discord", notification()), random.Random(5)
    now, attempts = NOW, 0
    with requests.Session() as session:
        while True:
            attempts += 1
            delivery = send(ops, body, now=now, session=session)
            at = next_attempt_at(delivery, attempts, now, rng=rng)
            if at is None:
                break
            now = at
    assert delivery.ok and attempts == 3 and len(webhook.received) == 3
    assert now >= NOW + timedelta(seconds=1)


def test_apprise_delivers_title_and_text_through_its_json_plugin(webhook):
    url = webhook.url.replace("http://", "json://")
    body = render("apprise", notification(event="remediation.failed", remediation=remediation()))
    delivery = send(channel("apprise", url), body, now=NOW)
    assert delivery.ok
    (received,) = webhook.received
    assert received.path == "/services/T0001/B0002/s3cr3tWebhookT0ken"
    assert received.json["title"] == "🔴 [FIRING] api-latency"
    assert "restart-api v3" in received.json["message"]
    assert received.json["type"] == "failure"


def test_apprise_failures_are_transient_because_apprise_says_only_false(webhook):
    webhook.answer(500, b"boom")
    url = webhook.url.replace("http://", "json://")
    delivery = send(channel("apprise", url, timeout_s=2), render("apprise", notification()), now=NOW)
    assert (delivery.ok, delivery.status, delivery.permanent) == (False, None, False)
    assert delivery.error == 'apprise could not notify apprise channel "ops"'
    assert_no_secret(delivery, url)


def test_an_apprise_url_apprise_does_not_know_is_permanent():
    url = "nosuchservice://s3cr3tWebhookT0ken@127.0.0.1/"
    delivery = send(channel("apprise", url), render("apprise", notification()), now=NOW)
    assert (delivery.ok, delivery.permanent) == (False, True)
    assert_no_secret(delivery, url)
