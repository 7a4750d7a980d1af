"""Approval requests that end with nobody answering (issue 19): when the wait expires or its
alert resolves, the request's Approve / Reject buttons give way to the reason (chat.update /
post patch) and a notice goes to the alert's thread; a late press on the old button is told
why and changes nothing. Against the loopback Slack and Mattermost fakes."""

from __future__ import annotations

from tests.integration.notify.chat_fakes import Message
from tests.integration.notify.chat_harness import MM_OPERATOR, OPERATOR, SIGNING_SECRET, wait_for


def _requested(chat, slack, mattermost, **binding):  # noqa: ANN001, ANN003, ANN202
    chat.register("restart")
    chat.bind("ask", "restart", "approve", **binding)
    chat.alert("cpu")
    chat.send()
    [slack_request] = slack.thread(slack.roots()[0])
    [mm_request] = mattermost.thread(mattermost.roots()[0])
    assert "vigil_approve" in slack_request.text and "vigilapprove" in mm_request.text
    return slack_request, mm_request


def _as_first_shown(message: Message) -> Message:
    """The message as a client that has not refreshed still shows it: with its buttons."""
    return Message(message.ref, message.channel, message.thread, message.versions[:1])


def _late_presses_change_nothing(chat, slack, mattermost, requests, reason: str) -> None:  # noqa: ANN001
    slack_request, mm_request = requests
    pressed = slack.press(
        chat.url, _as_first_shown(slack_request), "vigil_approve", user=OPERATOR, signing_secret=SIGNING_SECRET
    )
    assert pressed.status_code == 200 and pressed.json()["ok"] is False and reason in pressed.json()["text"]
    mm = mattermost.press(_as_first_shown(mm_request), "vigilreject", user=MM_OPERATOR)
    assert mm.status_code == 200 and reason in mm.json()["ephemeral_text"]
    chat.send()
    [ephemeral] = slack.ephemerals
    assert ephemeral["user"] == OPERATOR and reason in ephemeral["text"]
    chat.dispatcher.dispatch()
    [execution] = chat.executions()
    assert execution.approved_by is None and execution.rejected_by is None
    assert chat.audit("execution.approve") == [] and chat.audit("execution.reject") == []
    assert {r.details["reason"] for r in chat.audit("chat.refused")} == {execution.reason}


def test_an_expired_request_loses_its_buttons_and_the_thread_is_told(chat, slack, mattermost) -> None:
    requests = _requested(chat, slack, mattermost, approval_timeout="1s")
    assert wait_for(lambda: chat.dispatcher.dispatch() is not None and chat.executions()[0].state == "expired")
    chat.send()
    for fake, request, button in ((slack, requests[0], "vigil_approve"), (mattermost, requests[1], "vigilapprove")):
        assert len(request.versions) == 2 and button not in request.text
        assert "Expired: nobody approved within 1s" in request.text
        notices = [m for m in fake.thread(fake.roots()[0]) if m.ref != request.ref]
        [notice] = notices
        assert "Approval of restart expired: nobody approved within 1s" in notice.text
        assert fake.problems == []
    assert [path for path, body in slack.calls if body.get("ts") == requests[0].ref] == ["/api/chat.update"]
    _late_presses_change_nothing(chat, slack, mattermost, requests, "expired: nobody approved it within 1s")
    [execution] = chat.executions()
    assert execution.state == "expired"


def test_a_request_cancelled_by_its_alert_resolving_says_so_after_the_resolution(chat, slack, mattermost) -> None:
    requests = _requested(chat, slack, mattermost)
    chat.alert("cpu", state="ok")
    chat.send()
    for fake, request, button in ((slack, requests[0], "vigil_approve"), (mattermost, requests[1], "vigilapprove")):
        assert button not in request.text and "Cancelled: alert resolved before anyone approved" in request.text
        resolved, notice = [m for m in fake.thread(fake.roots()[0]) if m.ref != request.ref]
        assert "Resolved: cpu" in resolved.text
        assert "Approval of restart cancelled: alert resolved before anyone approved" in notice.text
        assert fake.problems == []
    _late_presses_change_nothing(
        chat, slack, mattermost, requests, "cancelled: alert 1 resolved before anyone approved"
    )
    [execution] = chat.executions()
    assert execution.state == "cancelled" and execution.cancelled_by == "system"


def _api(chat, verb: str, execution_id: int, **body):  # noqa: ANN001, ANN003, ANN202
    """POST an execution action as operator 'bob' through the REST API."""
    from app.auth import service as tokens

    with chat.database.write() as session:
        secret = tokens.new_secret()
        name = f"bob-{secret[-6:]}"  # one token per call: names are unique
        tokens.create(session, name=name, role="operator", by="test", secret=secret)
    response = chat.app.test_client().post(
        f"/api/v1/executions/{execution_id}/{verb}", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    return response, name


def test_an_answer_given_through_the_api_takes_the_buttons_off_the_chat_request(chat, slack, mattermost) -> None:
    slack_request, mm_request = _requested(chat, slack, mattermost)
    [execution] = chat.executions()
    response, by = _api(chat, "reject", execution.id, comment="not now")
    assert response.status_code == 200
    chat.send()
    for request, button in ((slack_request, "vigil_approve"), (mm_request, "vigilapprove")):
        assert button not in request.text and f"Rejected by {by}" in request.text
    assert slack.problems == [] and mattermost.problems == []


def test_a_forced_approval_of_an_expired_request_says_so_in_chat(chat, slack, mattermost) -> None:
    slack_request, _mm = _requested(chat, slack, mattermost, approval_timeout="1s")
    assert wait_for(lambda: chat.dispatcher.dispatch() is not None and chat.executions()[0].state == "expired")
    chat.send()
    [execution] = chat.executions()
    assert _api(chat, "approve", execution.id)[0].status_code == 409  # stale without force
    response, by = _api(chat, "approve", execution.id, force=True)
    assert response.status_code == 200
    chat.send()
    assert f"Approved by {by} (forced)" in slack_request.text and "vigil_approve" not in slack_request.text
