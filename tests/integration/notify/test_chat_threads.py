"""Threaded chat channels: one message per alert updated in place, its story in the thread,
and an approval answered from a signed button press (loopback fakes of Slack and Mattermost)."""

from __future__ import annotations

import json

from tests.integration.notify.chat_harness import MM_OPERATOR, OPERATOR, SIGNING_SECRET, wait_for


def _titles(message) -> list[str]:
    out = []
    for body in message.versions:
        if "blocks" in body:
            out.append(body["blocks"][0]["text"]["text"])
        else:
            out.append(body["props"]["attachments"][0]["title"])
    return out


def test_an_alert_is_one_message_updated_in_place_with_its_remediation_in_the_thread(
    chat, slack, mattermost, webhook
) -> None:
    chat.register("fix")
    chat.bind("auto-fix", "fix", "auto")
    chat.alert("cpu")
    chat.settle()
    chat.alert("cpu", state="ok")
    chat.send()
    assert slack.problems == [] and mattermost.problems == []
    for fake in (slack, mattermost):
        [root] = fake.roots()
        assert [t.split(" ", 1)[1] for t in _titles(root)] == [
            "Firing: cpu",
            "Remediating: cpu",
            "Firing · remediation succeeded: cpu",
            "Resolved: cpu",
        ]
        replies = fake.thread(root)
        assert len(replies) == 3 and all(m.thread == root.ref for m in replies)
        assert "fixed it" in replies[1].text  # the script's output, in the thread
    assert [r.json["event"] for r in webhook.received] == [
        "alert.firing",
        "remediation.started",
        "remediation.succeeded",
        "alert.resolved",
    ]


def test_two_alerts_get_two_threads(chat, slack) -> None:
    chat.alert("cpu", labels={"instance": "web-1"})
    chat.alert("cpu", labels={"instance": "web-2"})
    chat.send()
    assert len(slack.roots()) == 2 and slack.problems == []


def test_an_approval_request_carries_buttons_and_an_approval_from_slack_runs_and_updates_it(
    chat, slack, mattermost
) -> None:
    chat.register("restart")
    chat.bind("ask", "restart", "approve")
    chat.alert("cpu")
    chat.send()
    [root] = slack.roots()
    [request] = slack.thread(root)
    assert [
        e["action_id"]
        for b in request.body["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if "action_id" in e
    ] == ["vigil_approve", "vigil_reject"]
    [mm_request] = mattermost.thread(mattermost.roots()[0])
    actions = mm_request.body["props"]["attachments"][0]["actions"]
    assert [a["id"] for a in actions] == ["vigilapprove", "vigilreject"]
    assert actions[0]["integration"]["url"] == f"{chat.url}/api/v1/chat/mattermost/actions"

    answer = slack.press(chat.url, request, "vigil_approve", user=OPERATOR, signing_secret=SIGNING_SECRET)
    assert answer.status_code == 200 and answer.json()["ok"] is True
    [execution] = chat.executions()
    assert execution.approved_by == "alice" and OPERATOR in execution.comment
    [record] = chat.audit("execution.approve")
    assert record.actor == "alice" and OPERATOR in json.dumps(record.details)
    chat.settle()
    assert wait_for(lambda: chat.executions()[0].state == "succeeded")
    assert slack.problems == [] and mattermost.problems == []
    # Both channels' requests now say who answered, without buttons.
    for message in (request, mm_request):
        assert "Approved by alice" in message.text
        assert "vigil_approve" not in json.dumps(message.body) and 'actions"' not in json.dumps(
            message.body.get("props", {})
        )
    titles = _titles(root)
    assert titles[1].endswith("Firing · awaiting approval: cpu") and titles[-1].endswith(
        "Firing · remediation succeeded: cpu"
    )


def test_an_approval_from_mattermost_runs_and_the_presser_is_told(chat, mattermost) -> None:
    chat.register("restart")
    chat.bind("ask", "restart", "approve")
    chat.alert("cpu")
    chat.send()
    [request] = mattermost.thread(mattermost.roots()[0])
    answer = mattermost.press(request, "vigilapprove", user=MM_OPERATOR)
    assert answer.status_code == 200 and "Approved execution" in answer.json()["ephemeral_text"]
    chat.settle()
    assert chat.executions()[0].state == "succeeded"
    assert "Approved by alice" in request.text


def test_a_rejection_from_slack_records_the_rejecter_and_nothing_runs(chat, slack) -> None:
    chat.register("restart")
    chat.bind("ask", "restart", "approve")
    chat.alert("cpu")
    chat.send()
    [request] = slack.thread(slack.roots()[0])
    assert (
        slack.press(chat.url, request, "vigil_reject", user=OPERATOR, signing_secret=SIGNING_SECRET).json()["ok"]
        is True
    )
    chat.settle()
    [execution] = chat.executions()
    assert execution.state == "rejected" and execution.rejected_by == "alice" and execution.approved_by is None
    assert "Rejected by alice" in request.text


def test_an_unanswered_request_loses_its_buttons_when_the_alert_resolves(chat, slack) -> None:
    chat.register("restart")
    chat.bind("ask", "restart", "approve")
    chat.alert("cpu")
    chat.send()
    [root] = slack.roots()
    [request] = slack.thread(root)
    chat.alert("cpu", state="ok")
    chat.send()
    assert (
        "vigil_approve" not in request.text and "Cancelled: alert resolved before anyone approved: cpu" in request.text
    )
    assert chat.executions()[0].state == "cancelled" and slack.problems == []
