"""One call to a chat bot API: how each answer is classified, and the token never shows."""

from __future__ import annotations

from datetime import datetime, timezone

import requests

from app.notify import chatapi
from app.notify.render import render
from app.notify.transport import send
from config.channels import parse_channel
from tests.unit.notify.notify_builders import notification

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TOKEN = "xoxb-0000-very-secret-bot-token"


def _slack(webhook):
    base = webhook.url.split("/services/")[0]
    return parse_channel({"type": "slack", "name": "ops", "token": TOKEN, "channel": "C1", "api_url": f"{base}/api"})


def _post(webhook):
    channel = _slack(webhook)
    with requests.Session() as http:
        return chatapi.post(channel, render("slack", notification()), thread=None, http=http, now=NOW)


def test_a_post_sends_the_bearer_token_and_json_and_keeps_the_message_id(webhook) -> None:
    webhook.answer(200, b'{"ok": true, "channel": "C1", "ts": "1700000000.000100"}')
    posted = _post(webhook)
    assert posted.delivery.ok and (posted.chat_channel, posted.ref) == ("C1", "1700000000.000100")
    [received] = webhook.received
    assert received.path.endswith("/api/chat.postMessage")
    assert received.headers["Authorization"] == f"Bearer {TOKEN}"
    assert received.json["channel"] == "C1" and received.json["blocks"]


def test_slack_errors_are_permanent_unless_slack_is_busy(webhook) -> None:
    webhook.answer(200, b'{"ok": false, "error": "invalid_auth"}')
    webhook.answer(200, b'{"ok": false, "error": "ratelimited"}')
    first, second = _post(webhook), _post(webhook)
    assert first.delivery.permanent and "invalid_auth" in (first.delivery.error or "")
    assert not second.delivery.ok and not second.delivery.permanent


def test_a_429_is_retried_after_what_slack_says(webhook) -> None:
    webhook.answer(429, b"slow down", headers={"Retry-After": "7"})
    posted = _post(webhook)
    assert not posted.delivery.permanent and posted.delivery.retry_after_s == 7


def test_an_answer_without_a_message_id_cannot_be_threaded_and_is_not_sent_again(webhook) -> None:
    webhook.answer(200, b'{"ok": true}')
    posted = _post(webhook)
    assert not posted.delivery.ok and posted.delivery.permanent


def test_the_token_never_appears_in_an_error(webhook) -> None:
    webhook.answer(500, f"internal error for token {TOKEN}".encode())
    webhook.answer(200, f'{{"ok": false, "error": "bad {TOKEN}"}}'.encode())
    for posted in (_post(webhook), _post(webhook)):
        assert TOKEN not in (posted.delivery.error or "") and "[redacted]" in (posted.delivery.error or "")


def test_the_channel_test_message_goes_through_the_bot_api(webhook) -> None:
    webhook.answer(200, b'{"ok": true, "channel": "C1", "ts": "1.2"}')
    delivery = send(_slack(webhook), render("slack", notification()), now=NOW)
    assert delivery.ok and webhook.received[0].path.endswith("/api/chat.postMessage")
