"""Channels (secrets masked), a test message per channel, and the outbox's state."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.auth.decorators import Resource, actor, require
from app.db import iso, utcnow
from app.errors import NotFoundError
from app.events import Event, publish
from app.notify import outbox
from app.notify.messages import Notification
from app.notify.models import OutboxMessage
from app.notify.render import render
from app.notify.transport import send
from app.web import cfg, db, newest_first, page, page_parser
from config.channels import ChannelConfig
from config.vocabulary import OUTBOX_STATES

ns = Namespace("channels", description="Chat channels")
outbox_ns = Namespace("notifications", description="Notification outbox")

channel_out = ns.model(
    "Channel",
    {
        "name": fields.String,
        "type": fields.String,
        "url": fields.String(description="always masked"),
        "events": fields.List(fields.String),
        "min_severity": fields.String,
        "matchers": fields.Raw,
        "repeat_interval_s": fields.Float,
        "group_wait_s": fields.Float,
        "threaded": fields.Boolean(description="a bot: one message per alert, updated in place, events in its thread"),
    },
)
test_out = ns.model("ChannelTest", {"ok": fields.Boolean, "status": fields.Integer, "error": fields.String})
message_out = outbox_ns.model(
    "OutboxMessage",
    {
        "id": fields.Integer,
        "channel": fields.String,
        "event": fields.String,
        "alert_id": fields.Integer,
        "state": fields.String,
        "attempts": fields.Integer,
        "created_at": fields.String,
        "not_before": fields.String,
        "sent_at": fields.String,
        "last_status": fields.Integer,
        "last_error": fields.String,
    },
)
message_page = outbox_ns.model(
    "OutboxPage", {"items": fields.List(fields.Nested(message_out)), "next_cursor": fields.Integer}
)


def _channel(name: str) -> ChannelConfig:
    found = next((c for c in cfg().channels if c.name == name), None)
    if found is None:
        raise NotFoundError(f"channel {name!r} not found")
    return found


def _channel_dict(c: ChannelConfig) -> dict[str, Any]:
    return {
        "name": c.name,
        "type": c.type,
        "url": "**********",
        "events": list(c.events),
        "min_severity": c.min_severity,
        "matchers": dict(c.matchers),
        "repeat_interval_s": c.repeat_interval_s,
        "group_wait_s": c.group_wait_s,
        "threaded": c.threaded,
    }


@ns.route("")
class Channels(Resource):
    """/api/v1/channels: the configured chat channels."""

    @require("viewer")
    @ns.marshal_list_with(channel_out)
    def get(self) -> list[dict[str, Any]]:
        """Configured channels; URLs and secrets are never shown."""
        return [_channel_dict(c) for c in cfg().channels]


@ns.route("/<string:name>/test")
class ChannelTest(Resource):
    """/api/v1/channels/<name>/test: send the channel a test message."""

    @require("operator")
    @ns.response(404, "No such channel")
    @ns.marshal_with(test_out)
    def post(self, name: str) -> dict[str, Any]:
        """Send a test message now and report the HTTP result."""
        channel = _channel(name)
        now = utcnow()
        message = Notification(
            event="alert.firing", title=f"Vigil test message for {name}", severity="info", created_at=now
        )
        delivery = send(channel, render(channel.type, message), now=now)
        with db().write() as session:
            publish(
                session,
                [
                    Event(
                        "channel.test",
                        now,
                        actor=actor(),
                        target=f"channel:{name}",
                        details={"ok": delivery.ok, "status": delivery.status},
                    )
                ],
            )
        return {"ok": delivery.ok, "status": delivery.status, "error": delivery.error}


filters = page_parser()
filters.add_argument("state", choices=OUTBOX_STATES, location="args")
filters.add_argument("channel", location="args")


@outbox_ns.route("")
class Outbox(Resource):
    """/api/v1/notifications: the notification outbox, filtered and paged."""

    @require("viewer")
    @outbox_ns.expect(filters)
    @outbox_ns.marshal_with(message_page)
    def get(self) -> dict[str, Any]:
        """Outbox rows, newest first: what was sent, what waits, what failed and why."""
        a = filters.parse_args(strict=True)
        stmt = newest_first(OutboxMessage, a, state=a["state"], channel=a["channel"])
        with db().read() as session:
            rows, next_cursor = page(list(session.scalars(stmt)), a["limit"])
            return {
                "items": [
                    {
                        "id": r.id,
                        "channel": r.channel,
                        "event": r.event,
                        "alert_id": r.alert_id,
                        "state": r.state,
                        "attempts": r.attempts,
                        "created_at": iso(r.created_at),
                        "not_before": iso(r.not_before),
                        "sent_at": iso(r.sent_at),
                        "last_status": r.last_status,
                        "last_error": r.last_error,
                    }
                    for r in rows
                ],
                "next_cursor": next_cursor,
            }


@outbox_ns.route("/<int:message_id>/retry")
class OutboxRetry(Resource):
    """/api/v1/notifications/<id>/retry: send a failed notification again."""

    @require("operator")
    @outbox_ns.response(404, "No such notification")
    @outbox_ns.response(409, "Not failed, or its channel is no longer configured")
    @outbox_ns.marshal_with(message_out)
    def post(self, message_id: int) -> dict[str, Any]:
        """Send a failed notification again: it goes back to pending, due now (audited)."""
        with db().write() as session:
            return outbox.as_dict(outbox.retry(session, cfg(), message_id=message_id, by=actor(), now=utcnow()))
