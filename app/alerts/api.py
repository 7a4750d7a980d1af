"""Alerts: list with filters, detail with evidence and events, acknowledge and take it back."""

from __future__ import annotations

import functools
import json
from typing import Any, Callable

from flask import Response, current_app, request
from flask_restx import Model, Namespace, fields, inputs

from app.alerts import service
from app.alerts.models import AlertEvent
from app.auth.decorators import Resource, actor, require
from app.db import iso, utcnow
from app.errors import ConflictError
from app.web import db, page_parser, utc_datetime

ns = Namespace("alerts", description="Alert history and lifecycle")

STATES = ("pending", "firing", "resolved")

alert_out = ns.model(
    "Alert",
    {
        "id": fields.Integer,
        "fingerprint": fields.String,
        "detector": fields.String,
        "source": fields.String,
        "labels": fields.Raw,
        "severity": fields.String,
        "state": fields.String,
        "kind": fields.String,
        "message": fields.String,
        "value": fields.Float,
        "threshold": fields.Float,
        "started_at": fields.String,
        "fired_at": fields.String,
        "resolved_at": fields.String,
        "last_seen_at": fields.String,
        "acked_at": fields.String,
        "acked_by": fields.String,
    },
)
event_out = ns.model(
    "AlertEvent",
    {
        "id": fields.Integer,
        "at": fields.String,
        "kind": fields.String,
        "actor": fields.String,
        "details": fields.Raw,
    },
)
alert_detail = ns.inherit(
    "AlertDetail",
    alert_out,
    {
        "evidence": fields.Raw,
        "events": fields.List(fields.Nested(event_out)),
        "incident_id": fields.Integer(
            description="the incident it folded into once it fired (GET /api/v1/incidents/<id>)"
        ),
    },
)
alert_page = ns.model("AlertPage", {"items": fields.List(fields.Nested(alert_out)), "next_cursor": fields.Integer})
ack_in = ns.model("AckRequest", {"comment": fields.String(max_length=1000)}, strict=True)


def _states(value: str) -> tuple[str, ...]:
    states = tuple(s for s in value.split(",") if s)
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ValueError(f"unknown state(s) {', '.join(bad)}; use {', '.join(STATES)}")
    return states


def _matcher(value: str) -> tuple[str, str, str]:
    return service.matcher(value)


def _matchers(value: str) -> tuple[tuple[str, str, str], ...]:
    return tuple(service.matcher(part) for part in service.split_matchers(value))


def _terms(value: str) -> tuple[str, ...]:
    if len(value) > 1000:
        raise ValueError(f"at most 1000 characters, got {len(value)}")
    return service.terms(value)


filters = page_parser()
filters.add_argument("state", type=_states, location="args", help=None)
filters.add_argument("detector", location="args")
filters.add_argument("severity", choices=("info", "warning", "critical"), location="args")
_matcher.__schema__ = {"type": "string", "pattern": service.MATCHER_PATTERN}  # type: ignore[attr-defined]
filters.add_argument(
    "label",
    type=_matcher,
    action="append",
    location="args",
    help="label=value, label!=value, label=~regex, label!~regex (RE2, anchored); repeat to AND",
)
filters.add_argument(
    "labels",
    type=_matchers,
    location="args",
    help="the same matchers in one value, separated by spaces (the dashboard's older form)",
)
filters.add_argument(
    "q",
    type=_terms,
    location="args",
    help='free text: every word (or "quoted phrase") in detector, labels, message or annotations',
)
filters.add_argument("since", type=utc_datetime, location="args")
filters.add_argument("until", type=utc_datetime, location="args")
filters.add_argument("acked", type=inputs.boolean, location="args")


def prebuilt_json(model: Model) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """ns.marshal_with(model) for a method that returns the model's JSON text already built.

    Same documentation and the same answer, without flask-restx formatting each of a page's
    850 fields again; a request with an X-Fields mask goes through marshal_with, which applies it.
    """

    def wrap(fn: Callable[..., str]) -> Callable[..., Any]:
        marshalled = ns.marshal_with(model)(lambda *a, **k: json.loads(fn(*a, **k)))

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if request.headers.get(current_app.config["RESTX_MASK_HEADER"]):
                return marshalled(*args, **kwargs)
            return Response(fn(*args, **kwargs), mimetype="application/json")

        inner.__apidoc__ = marshalled.__apidoc__  # type: ignore[attr-defined]
        return inner

    return wrap


def event_dict(e: AlertEvent) -> dict[str, Any]:
    """One timeline row as the API shows it (time in ISO 8601)."""
    return {"id": e.id, "at": iso(e.at), "kind": e.kind, "actor": e.actor, "details": e.details}


@functools.lru_cache(maxsize=1024)
def _query(query_string: bytes) -> service.AlertQuery:
    """The current request's filters, remembered by query string: clients repeat theirs, and
    reqparse cost a tenth of the list's CPU. A bad query raises and is not remembered."""
    a = filters.parse_args(strict=True)
    return service.AlertQuery(
        states=a["state"] or (),
        detector=a["detector"],
        severity=a["severity"],
        matchers=(*(a["label"] or ()), *(a["labels"] or ())),
        text=a["q"] or (),
        since=a["since"],
        until=a["until"],
        acked=a["acked"],
        cursor=a["cursor"],
        limit=a["limit"],
    )


@ns.route("")
class Alerts(Resource):
    """/api/v1/alerts: list alerts, filtered and paged by cursor."""

    @require("viewer")
    @ns.expect(filters)
    @prebuilt_json(alert_page)
    def get(self) -> str:
        """Alerts, newest first; filter by state (comma list), detector, severity, label matchers, text, time."""
        query = _query(request.query_string)
        with db().read_connection() as connection:
            items, next_cursor = service.search_json(connection, query)
        return f'{{"items":[{",".join(items)}],"next_cursor":{json.dumps(next_cursor)}}}\n'


@ns.route("/<int:alert_id>")
class AlertDetail(Resource):
    """/api/v1/alerts/<id>: one alert in full."""

    @require("viewer")
    @ns.response(404, "No such alert")
    @ns.marshal_with(alert_detail)
    def get(self, alert_id: int) -> dict[str, Any]:
        """One alert with its evidence window and every event."""
        with db().read() as session:
            alert = service.get(session, alert_id)
            return {
                **alert.as_dict(),
                "evidence": alert.evidence,
                "incident_id": alert.incident_id,
                "events": [event_dict(e) for e in service.events(session, alert_id)],
            }


@ns.route("/<int:alert_id>/ack")
class AlertAck(Resource):
    """/api/v1/alerts/<id>/ack: acknowledge an alert."""

    @require("operator")
    @ns.expect(ack_in, validate=True)
    @ns.response(404, "No such alert")
    @ns.response(409, "Alert already resolved")
    @ns.marshal_with(alert_out)
    def post(self, alert_id: int) -> dict[str, Any]:
        """Acknowledge an open alert (recorded with who did it)."""
        comment = (ns.payload or {}).get("comment", "")
        with db().write() as session:
            return service.acknowledge(session, alert_id=alert_id, by=actor(), now=utcnow(), comment=comment).as_dict()


@ns.route("/<int:alert_id>/unack")
class AlertUnack(Resource):
    """/api/v1/alerts/<id>/unack: take an acknowledgement back."""

    @require("operator")
    @ns.response(404, "No such alert")
    @ns.response(409, "Alert not acknowledged, or already resolved")
    @ns.marshal_with(alert_out)
    def post(self, alert_id: int) -> dict[str, Any]:
        """Take back the acknowledgement of an open alert (recorded with who did it)."""
        with db().write() as session:
            alert = service.get(session, alert_id)
            # service.unacknowledge is quiet on both (the dashboard's bulk un-ack relies on it);
            # one alert asked for by id is a conflict the client should hear about.
            if alert.state == "resolved":
                raise ConflictError(f"alert {alert_id} is resolved; its acknowledgement stays")
            if alert.acked_at is None:
                raise ConflictError(f"alert {alert_id} is not acknowledged")
            return service.unacknowledge(session, alert_id=alert_id, by=actor(), now=utcnow()).as_dict()
