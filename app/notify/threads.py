"""Threaded channels (a Slack or Mattermost bot): one message per alert, updated in place.

The first event of an alert posts its message (the thread's root) and stores where it
lives in `chat_messages`; each later event updates the root's state (firing ->
awaiting approval -> remediating -> remediated / remediation failed -> resolved) and adds
its own message to the thread. An approval request in the thread carries Approve / Reject
buttons when the channel has a callback secret; the answer (app.chat) comes back as an
`approval.answered` row that replaces the buttons with who answered. A wait that ends
unanswered (it expired, or the alert resolved first) comes as such a row too: the buttons
give way to the reason and a notice goes to the alert's thread. The sender sends rows
about one alert in order, so a reply never comes before its root.

Each step is safe to repeat: a failed reply is retried after the root was updated, and
updating the root again with the same state changes nothing anyone sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select

from app.db import Database
from app.notify import chatapi, service
from app.notify.delivery import Delivery
from app.notify.messages import Notification
from app.notify.models import ChatMessage, OutboxMessage
from app.notify.render import render
from config.channels import ChannelConfig, MattermostChannel, SlackChannel

APPROVE, REJECT = "vigil_approve", "vigil_reject"  # Slack action_id of each button
CHAT_EVENTS = ("approval.answered", "chat.ephemeral")  # rows only the chat callbacks write
ENDED_WAITS = ("expired", "cancelled")  # answers nobody gave (app.automation.approvals): the thread is told

# The state an event leaves an alert's message in, and how its title says it.
_STATE = {
    "alert.firing": "firing",
    "approval.requested": "awaiting approval",
    "remediation.started": "remediating",
    "remediation.succeeded": "remediated",
    "remediation.failed": "remediation failed",
    "alert.resolved": "resolved",
}
_TITLE = {
    "firing": "Firing",
    "awaiting approval": "Firing · awaiting approval",
    "remediating": "Remediating",
    "remediated": "Firing · remediation succeeded",
    "remediation failed": "Firing · remediation failed",
    "resolved": "Resolved",
}


def deliver(
    database: Database,
    channel: ChannelConfig,
    rows: Sequence[OutboxMessage],
    *,
    http: requests.Session,
    now: datetime,
    actions_url: str | None,
) -> Delivery:
    """Send one group (one event about one alert, or one chat answer) to a threaded channel."""
    first = rows[0]
    if first.event == "chat.ephemeral":
        p = first.payload
        return chatapi.ephemeral(
            channel, chat_channel=p["chat_channel"], user=p["user"], text=p["text"], http=http, now=now
        )
    if first.event == "approval.answered":
        return _answered(database, channel, first, http=http, now=now)
    n = service.notification(rows)
    reply = _with_buttons(channel, render(channel.type, n), n, actions_url)
    if first.alert_id is None:  # a manual run without an alert: a message of its own
        return _post_and_keep(database, channel, reply, n, first, thread=None, http=http, now=now)
    root = _find(database, channel.name, "alert", alert_id=first.alert_id)
    state = _STATE.get(first.event)
    if root is None:
        posted = chatapi.post(channel, _root_body(channel, n, state or "firing"), thread=None, http=http, now=now)
        if not posted.delivery.ok:
            return posted.delivery
        root = _keep(database, channel.name, "alert", posted, alert_id=first.alert_id, state=state or "firing", now=now)
        if first.event == "alert.firing":
            return posted.delivery
    elif state and root.state != "resolved" and not _is_repeat(first):
        delivery = chatapi.update(
            channel,
            chat_channel=root.chat_channel,
            ref=root.ref,
            body=_root_body(channel, n, state),
            http=http,
            now=now,
        )
        if not delivery.ok:
            return delivery
        _set_state(database, root.id, state, now)
    return _post_and_keep(database, channel, reply, n, first, thread=root.ref, http=http, now=now)


def _is_repeat(row: OutboxMessage) -> bool:
    return bool(row.payload.get("repeat"))


def _root_body(channel: ChannelConfig, n: Notification, state: str) -> dict[str, Any]:
    """The alert's own message: its latest facts under a title naming its state."""
    subject = n.alerts[0].detector if n.alerts else "vigil"
    event = "alert.resolved" if state == "resolved" else "alert.firing"
    shown = replace(n, event=event, title=f"{_TITLE.get(state, state)}: {subject}")
    return render(channel.type, shown)


def _post_and_keep(
    database: Database,
    channel: ChannelConfig,
    body: dict[str, Any],
    n: Notification,
    row: OutboxMessage,
    *,
    thread: str | None,
    http: requests.Session,
    now: datetime,
) -> Delivery:
    posted = chatapi.post(channel, body, thread=thread, http=http, now=now)
    execution_id = n.remediation.execution_id if n.remediation else None
    if posted.delivery.ok and row.event == "approval.requested" and isinstance(execution_id, int):
        _keep(
            database,
            channel.name,
            "approval",
            posted,
            alert_id=row.alert_id,
            execution_id=execution_id,
            state="awaiting approval",
            now=now,
        )
    return posted.delivery


def _with_buttons(
    channel: ChannelConfig, body: dict[str, Any], n: Notification, actions_url: str | None
) -> dict[str, Any]:
    """An approval request with Approve / Reject buttons, when the channel takes their callbacks."""
    execution_id = n.remediation.execution_id if n.remediation else None
    if n.event != "approval.requested" or not isinstance(execution_id, int):
        return body
    if isinstance(channel, SlackChannel) and channel.signing_secret is not None:
        buttons = [
            {
                "type": "button",
                "action_id": action,
                "text": {"type": "plain_text", "text": text},
                "style": style,
                "value": str(execution_id),
            }
            for action, text, style in ((APPROVE, "Approve", "primary"), (REJECT, "Reject", "danger"))
        ]
        actions = {"type": "actions", "block_id": f"vigil_approval_{execution_id}", "elements": buttons}
        # Before the footer; render() leaves room (its bodies stay well under 50 blocks).
        return {**body, "blocks": [*body["blocks"][:-1], actions, body["blocks"][-1]]}
    if isinstance(channel, MattermostChannel) and channel.action_secret is not None and actions_url:
        secret = channel.action_secret.get_secret_value()
        # Mattermost keeps an action's integration (url, context) on its server: users never see the secret.
        mm_actions = [
            {
                "id": f"vigil{verb}",
                "name": text,
                "style": style,
                "integration": {
                    "url": actions_url,
                    "context": {"action": verb, "execution_id": execution_id, "channel": channel.name, "token": secret},
                },
            }
            for verb, text, style in (("approve", "Approve", "primary"), ("reject", "Reject", "danger"))
        ]
        first, *rest = body["attachments"]
        return {**body, "attachments": [{**first, "actions": mm_actions}, *rest]}
    return body


def _answered(
    database: Database, channel: ChannelConfig, row: OutboxMessage, *, http: requests.Session, now: datetime
) -> Delivery:
    """Replace an approval request's buttons with who answered it, or why nobody will (the
    wait expired, or its alert resolved first: then the alert's thread hears it too)."""
    answer = row.payload["answer"]
    message = _find(database, channel.name, "approval", execution_id=answer["execution_id"])
    if message is None:
        return Delivery(ok=True)  # this channel never showed the request: nothing to update
    n = service.notification([row])
    if message.state != answer["outcome"]:  # not yet updated (a retry after a failed notice skips this)
        shown = replace(n, event="approval.requested", title=f"{answer['text']}: {n.title.split(': ', 1)[-1]}")
        delivery = chatapi.update(
            channel,
            chat_channel=message.chat_channel,
            ref=message.ref,
            body=render(channel.type, shown),
            http=http,
            now=now,
        )
        if not delivery.ok:
            return delivery
        _set_state(database, message.id, answer["outcome"], now)
    if answer["outcome"] not in ENDED_WAITS:
        return Delivery(ok=True)
    root = _find(database, channel.name, "alert", alert_id=row.alert_id) if row.alert_id else None
    name = n.remediation.name if n.remediation else "the remediation"
    text = answer["text"]
    notice = replace(n, title=f"Approval of {name} {text[:1].lower()}{text[1:]}")
    return chatapi.post(
        channel, render(channel.type, notice), thread=root.ref if root else message.ref, http=http, now=now
    ).delivery


def _find(
    database: Database, channel: str, role: str, *, alert_id: int | None = None, execution_id: int | None = None
) -> ChatMessage | None:
    key = ChatMessage.alert_id == alert_id if role == "alert" else ChatMessage.execution_id == execution_id
    with database.read() as session:
        found = session.scalar(
            select(ChatMessage)
            .where(ChatMessage.channel == channel, ChatMessage.role == role, key)
            .order_by(ChatMessage.id)
            .limit(1)
        )
        if found is not None:
            session.expunge(found)
        return found


def _keep(
    database: Database,
    channel: str,
    role: str,
    posted: chatapi.Posted,
    *,
    alert_id: int | None,
    state: str,
    now: datetime,
    execution_id: int | None = None,
) -> ChatMessage:
    message = ChatMessage(
        channel=channel,
        role=role,
        alert_id=alert_id,
        execution_id=execution_id,
        chat_channel=posted.chat_channel or "",
        ref=posted.ref or "",
        state=state,
        created_at=now,
        updated_at=now,
    )
    with database.write() as session:
        session.add(message)
        session.flush()
        session.expunge(message)
    return message


def _set_state(database: Database, message_id: int, state: str, now: datetime) -> None:
    with database.write() as session:
        row = session.get(ChatMessage, message_id)
        if row is not None:
            row.state, row.updated_at = state, now
