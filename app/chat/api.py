"""Chat services call these when someone presses Approve or Reject on an approval request.

Not Vigil API tokens: each call proves where it comes from (app.chat.verify), and the
button must be on an approval request Vigil itself posted for that execution.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flask import request
from flask_restx import Namespace, Resource, fields

from app import metrics
from app.chat import service, verify
from app.db import utcnow
from app.errors import BadRequestError, NotFoundError, ServiceError
from app.notify.threads import APPROVE, REJECT
from app.web import cfg, db

ns = Namespace("chat", description="Button presses from Slack and Mattermost (signed by the chat service)")
slack_out = ns.model("SlackActionAnswer", {"ok": fields.Boolean, "text": fields.String})
mattermost_out = ns.model("MattermostActionAnswer", {"ephemeral_text": fields.String})
_SLACK_ACTIONS = {APPROVE: "approve", REJECT: "reject"}


class UnauthorizedError(ServiceError):
    """A button press not signed by a configured chat app (401)."""

    status = 401


@dataclass(frozen=True)
class Press:
    """One Approve or Reject press on an approval request, whichever chat service sent it."""

    action: str
    execution_id: int
    user: str
    chat_channel: str
    ref: str  # the message the button is on


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise BadRequestError(f"{field}: expected an id", {field: "expected a non-empty string of at most 64"})
    return value


def _execution_id(value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    raise BadRequestError(f"{field}: expected an execution id", {field: "expected a positive integer"})


def _slack_press(raw: bytes) -> Press:
    try:
        payload = json.loads(parse_qs(raw.decode("utf-8"), strict_parsing=True)["payload"][0])
    except (ValueError, KeyError, UnicodeDecodeError):
        raise BadRequestError("expected a form with a JSON `payload`", {"payload": "missing or not JSON"}) from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        raise BadRequestError("only block_actions payloads are handled", {"payload.type": "expected block_actions"})
    actions = payload.get("actions")
    action = (
        next((a for a in actions if isinstance(a, dict) and a.get("action_id") in _SLACK_ACTIONS), None)
        if isinstance(actions, list)
        else None
    )
    if action is None:
        raise BadRequestError("no Vigil button was pressed", {"payload.actions": "expected vigil_approve/reject"})
    user, channel = payload.get("user"), payload.get("channel")
    container = payload.get("container")
    return Press(
        _SLACK_ACTIONS[action["action_id"]],
        _execution_id(action.get("value"), "payload.actions[0].value"),
        _text(user.get("id") if isinstance(user, dict) else None, "payload.user.id"),
        _text(channel.get("id") if isinstance(channel, dict) else None, "payload.channel.id"),
        _text(container.get("message_ts") if isinstance(container, dict) else None, "payload.container.message_ts"),
    )


def _refused(source: str, exc: verify.CallbackRefusedError) -> UnauthorizedError:
    metrics.INGEST_REJECTED.labels(source, exc.reason).inc()
    return UnauthorizedError(exc.message, {"signature" if source == "slack" else "context.token": exc.reason})


@ns.route("/slack/actions")
class SlackActions(Resource):
    """/api/v1/chat/slack/actions: Slack's interactivity Request URL."""

    @ns.response(200, "Answered (or refused, told to the user privately)", slack_out)
    @ns.response(401, "Not signed by a configured Slack app, or too old")
    @ns.response(404, "The button is not on an approval request Vigil posted")
    def post(self) -> Any:
        """Slack interactivity Request URL: Approve / Reject pressed on an approval request."""
        raw = request.get_data(cache=True)
        try:
            channels = verify.slack_channels(
                cfg().channels,
                body=raw,
                now=time.time(),
                timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
                signature=request.headers.get("X-Slack-Signature", ""),
            )
        except verify.CallbackRefusedError as exc:
            raise _refused("slack", exc) from None
        press = _slack_press(raw)
        now = utcnow()
        with db().write() as session:
            message = service.approval_message(
                session,
                [c.name for c in channels],
                execution_id=press.execution_id,
                chat_channel=press.chat_channel,
                ref=press.ref,
            )
            if message is None:
                raise NotFoundError(f"execution {press.execution_id} has no approval request in this message")
            channel = next(c for c in channels if c.name == message.channel)
            result = service.answer(
                session,
                cfg(),
                channel=channel,
                chat_user=press.user,
                action=press.action,
                execution_id=press.execution_id,
                now=now,
            )
            if not result.done:
                service.refuse_privately(
                    session, channel, chat_channel=press.chat_channel, chat_user=press.user, text=result.text, now=now
                )
        return {"ok": result.done, "text": result.text}


@ns.route("/mattermost/actions")
class MattermostActions(Resource):
    """/api/v1/chat/mattermost/actions: the URL Mattermost's message buttons call."""

    @ns.response(200, "Answered; ephemeral_text is shown to the user who pressed", mattermost_out)
    @ns.response(401, "The context does not carry the channel's action secret")
    @ns.response(404, "The button is not on an approval request Vigil posted")
    def post(self) -> Any:
        """Mattermost interactive message action: Approve / Reject pressed on an approval request."""
        body = request.get_json(force=True, silent=True)
        context = body.get("context") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(context, dict):
            raise UnauthorizedError(
                "expected Mattermost's action call with the button's context", {"context.token": "missing"}
            )
        try:
            channel = verify.mattermost_channel(cfg().channels, name=context.get("channel"), token=context.get("token"))
        except verify.CallbackRefusedError as exc:
            raise _refused("mattermost", exc) from None
        action = context.get("action")
        if action not in service.ACTIONS:
            raise BadRequestError("context.action: expected approve or reject", {"context.action": "unknown"})
        execution_id = _execution_id(context.get("execution_id"), "context.execution_id")
        user = _text(body.get("user_id"), "user_id")
        now = utcnow()
        with db().write() as session:
            message = service.approval_message(
                session,
                [channel.name],
                execution_id=execution_id,
                chat_channel=_text(body.get("channel_id"), "channel_id"),
                ref=_text(body.get("post_id"), "post_id"),
            )
            if message is None:
                raise NotFoundError(f"execution {execution_id} has no approval request in this post")
            result = service.answer(
                session, cfg(), channel=channel, chat_user=user, action=action, execution_id=execution_id, now=now
            )
        return {"ephemeral_text": result.text}
