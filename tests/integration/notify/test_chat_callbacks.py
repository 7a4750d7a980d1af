"""Button presses that must not run anything: forged, stale, replayed, from strangers or viewers.

Each press goes over real HTTP to Vigil on loopback, as Slack or Mattermost would send it.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from tests.integration.notify.chat_harness import ACTION_SECRET, MM_VIEWER, OPERATOR, SIGNING_SECRET, STRANGER, VIEWER


@pytest.fixture
def waiting(chat, slack, mattermost):
    """An approval request shown in Slack and Mattermost; returns (slack message, mattermost post)."""
    chat.register("restart")
    chat.bind("ask", "restart", "approve")
    chat.alert("cpu")
    chat.send()
    [slack_request] = slack.thread(slack.roots()[0])
    [mm_request] = mattermost.thread(mattermost.roots()[0])
    return slack_request, mm_request


def _nothing_ran(chat) -> None:
    chat.dispatcher.dispatch()
    [execution] = chat.executions()
    assert execution.state == "awaiting_approval" and execution.approved_by is None
    assert chat.audit("execution.approve") == []


def test_a_press_with_a_bad_signature_is_refused(chat, slack, waiting) -> None:
    answer = slack.press(chat.url, waiting[0], "vigil_approve", user=OPERATOR, signing_secret="not-the-secret-0000")
    assert answer.status_code == 401 and answer.json()["errors"] == {"signature": "bad_signature"}
    _nothing_ran(chat)


def test_a_press_with_a_stale_timestamp_is_refused_even_when_signed(chat, slack, waiting) -> None:
    answer = slack.press(
        chat.url,
        waiting[0],
        "vigil_approve",
        user=OPERATOR,
        signing_secret=SIGNING_SECRET,
        timestamp=int(time.time()) - 301,
    )
    assert answer.status_code == 401 and answer.json()["errors"] == {"signature": "stale_timestamp"}
    _nothing_ran(chat)


def test_a_replayed_body_with_a_new_timestamp_but_its_old_signature_is_refused(chat, slack, waiting) -> None:
    # A press captured ten minutes ago: its body and signature, sent again with a fresh timestamp.
    old = int(time.time()) - 600
    payload = {
        "type": "block_actions",
        "user": {"id": OPERATOR},
        "channel": {"id": slack.channel_id},
        "container": {"message_ts": waiting[0].ref},
        "actions": [{"action_id": "vigil_approve", "value": "1"}],
    }
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    import hashlib
    import hmac

    captured = "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{old}:".encode() + body, hashlib.sha256).hexdigest()
    assert (
        slack.send_signed(chat.url, body, signing_secret=SIGNING_SECRET, timestamp=old, signature=captured).status_code
        == 401
    )  # as captured: stale
    answer = slack.send_signed(chat.url, body, signing_secret=SIGNING_SECRET, signature=captured)  # fresh stamp
    assert answer.status_code == 401 and answer.json()["errors"] == {"signature": "bad_signature"}
    _nothing_ran(chat)


def test_an_unknown_user_is_refused_privately_and_nothing_runs(chat, slack, waiting) -> None:
    answer = slack.press(chat.url, waiting[0], "vigil_approve", user=STRANGER, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 200 and answer.json()["ok"] is False
    _nothing_ran(chat)
    chat.send()
    [ephemeral] = slack.ephemerals
    assert ephemeral["user"] == STRANGER and "not on this channel's list of approvers" in ephemeral["text"]
    [refused] = chat.audit("chat.refused")
    assert refused.actor == f"slack:{STRANGER}"
    assert "vigil_approve" in json.dumps(waiting[0].body)  # the buttons are still there for someone who may


def test_a_viewer_is_refused_privately_and_nothing_runs(chat, slack, waiting) -> None:
    answer = slack.press(chat.url, waiting[0], "vigil_approve", user=VIEWER, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 200 and answer.json()["ok"] is False
    _nothing_ran(chat)
    chat.send()
    assert "needs the operator role; yours is viewer" in slack.ephemerals[0]["text"]


def test_a_signed_press_on_a_message_vigil_did_not_post_is_refused(chat, slack, waiting) -> None:
    root = slack.roots()[0]  # the alert's message, not the approval request
    root.body["blocks"].insert(
        1,
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "vigil_approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "1",
                }
            ],
        },
    )
    answer = slack.press(chat.url, root, "vigil_approve", user=OPERATOR, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 404
    _nothing_ran(chat)


def test_a_mattermost_press_without_the_action_secret_is_refused(chat, mattermost, waiting) -> None:
    context = {"action": "approve", "execution_id": 1, "channel": "ops-mm", "token": "guessed-" + "x" * 20}
    answer = mattermost.press(waiting[1], "vigilapprove", user=MM_VIEWER, context=context)
    assert answer.status_code == 401
    answer = mattermost.press(
        waiting[1], "vigilapprove", user=MM_VIEWER, context={**context, "channel": "nope", "token": ACTION_SECRET}
    )
    assert answer.status_code == 401
    _nothing_ran(chat)


def test_a_mattermost_viewer_is_told_no_and_nothing_runs(chat, mattermost, waiting) -> None:
    answer = mattermost.press(waiting[1], "vigilapprove", user=MM_VIEWER)
    assert answer.status_code == 200 and "needs the operator role" in answer.json()["ephemeral_text"]
    _nothing_ran(chat)


def test_a_second_press_after_the_answer_changes_nothing(chat, slack, waiting) -> None:
    first = slack.press(chat.url, waiting[0], "vigil_approve", user=OPERATOR, signing_secret=SIGNING_SECRET)
    again = slack.press(chat.url, waiting[0], "vigil_reject", user=OPERATOR, signing_secret=SIGNING_SECRET)
    assert first.json()["ok"] is True and again.json()["ok"] is False
    assert "cannot reject execution" in again.json()["text"]
    assert [e.state for e in chat.executions()] in (["queued"], ["dispatched"], ["running"], ["succeeded"])


@pytest.mark.parametrize("body", [b"", b"payload=not-json", b"payload=%7B%7D", b"\xff\xfe"])
def test_malformed_but_signed_presses_answer_400(chat, slack, waiting, body: bytes) -> None:
    answer = slack.send_signed(chat.url, body, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 400 and answer.json()["errors"]
    _nothing_ran(chat)
