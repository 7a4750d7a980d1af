"""Inbound webhooks: Alertmanager, Grafana and a generic shape. Store, then answer 202.

A 4xx here means the request really is bad: Alertmanager drops a notification for good
on any 4xx, so anything we could process later is accepted.
"""

from __future__ import annotations

import time
from typing import Any

from flask import request
from flask_restx import Namespace, Resource, fields
from pydantic import ValidationError

from app import metrics
from app.auth import decorators
from app.db import iso, utcnow
from app.errors import BadRequestError, ServiceError
from app.ingest import payloads, service
from app.ingest.models import InboxItem
from app.web import cfg, db, newest_first, page, page_parser
from config.loader import field_errors
from config.schema import IngestEndpoint

ns = Namespace("ingest", description="Inbound alert webhooks (their own tokens)")
accepted_out = ns.model("IngestAccepted", {"received": fields.Integer, "new": fields.Integer})
inbox_out = ns.model(
    "InboxItem",
    {
        "id": fields.Integer,
        "source": fields.String,
        "received_at": fields.String,
        "processed_at": fields.String,
        "state": fields.String(enum=["pending", "processed", "failed"]),
        "error": fields.String(description="why a failed item could not be applied"),
        "item": fields.Raw(description="the alert as received, normalised"),
    },
)
inbox_page = ns.model("InboxPage", {"items": fields.List(fields.Nested(inbox_out)), "next_cursor": fields.Integer})
inbox_filters = page_parser()
inbox_filters.add_argument("state", choices=("pending", "processed", "failed"), location="args")
# Each state as conditions on the row; "failed" and "pending" are served by their own indexes.
_STATES = {
    "pending": (InboxItem.processed_at.is_(None),),
    "processed": (InboxItem.processed_at.is_not(None), InboxItem.error.is_(None)),
    "failed": (InboxItem.error.is_not(None),),
}


class UnauthorizedError(ServiceError):
    """An inbound webhook without valid credentials (401)."""

    status = 401


def _authenticate(source: str, endpoint: IngestEndpoint) -> None:
    """A bearer token or an HMAC-SHA256 signature of "<timestamp>.<body>"; never both missing."""
    if service.authenticated(
        endpoint,
        authorization=request.headers.get("Authorization", ""),
        signature=request.headers.get("X-Vigil-Signature", ""),
        stamp=request.headers.get("X-Vigil-Timestamp", ""),
        body=request.get_data(),
        now_s=time.time(),
    ):
        return
    reason = "not_configured" if not (endpoint.token or endpoint.hmac_secret) else "bad_credentials"
    metrics.INGEST_REJECTED.labels(source, reason).inc()
    raise UnauthorizedError(f"{source} ingest needs its own token (Authorization: Bearer) or an HMAC signature")


def _accept(source: str, endpoint: IngestEndpoint, parse: Any) -> tuple[dict[str, int], int]:
    _authenticate(source, endpoint)
    # Parsed whatever the Content-Type; a body that is no JSON, or JSON we refuse (NaN, NUL,
    # deep nesting), answers a 400 naming why (app.web).
    body = request.get_json(force=True)
    if not isinstance(body, dict):
        raise BadRequestError("request body must be a JSON object", {"body": "expected a JSON object"})
    try:
        items = parse(body)
    except ValidationError as exc:
        # The whole batch is refused: nothing of a partly valid request is stored.
        raise BadRequestError("invalid payload; nothing was stored", field_errors(exc)) from None
    unique = service.admit(items, cfg().ingest)
    now = utcnow()
    new = db().grouped_write(lambda connection: service.store(connection, unique, now=now))
    metrics.INGESTED.labels(source).inc(new)
    return {"received": len(items), "new": new}, 202


@ns.route("/alertmanager")
class Alertmanager(Resource):
    """/api/v1/ingest/alertmanager: Alertmanager's webhook receiver."""

    @ns.response(202, "Stored; processed shortly", accepted_out)
    @ns.response(400, "Malformed payload (nothing stored)")
    @ns.response(401, "Missing or wrong credentials")
    def post(self) -> Any:
        """Alertmanager webhook (version 4): every alert of the group enters Vigil's lifecycle."""
        return _accept(
            "alertmanager",
            cfg().ingest.alertmanager,
            lambda b: payloads.from_prom("alertmanager", payloads.PromPayload.model_validate(b)),
        )


@ns.route("/grafana")
class Grafana(Resource):
    """/api/v1/ingest/grafana: Grafana's webhook contact point."""

    @ns.response(202, "Stored; processed shortly", accepted_out)
    @ns.response(400, "Malformed payload (nothing stored)")
    @ns.response(401, "Missing or wrong credentials")
    def post(self) -> Any:
        """Grafana unified alerting webhook."""
        return _accept(
            "grafana",
            cfg().ingest.grafana,
            lambda b: payloads.from_prom("grafana", payloads.PromPayload.model_validate(b)),
        )


@ns.route("/generic")
class Generic(Resource):
    """/api/v1/ingest/generic: alerts from any other system, in Vigil's own small shape."""

    @ns.response(202, "Stored; processed shortly", accepted_out)
    @ns.response(400, "Malformed payload (nothing stored)")
    @ns.response(401, "Missing or wrong credentials")
    def post(self) -> Any:
        """Anything else: {"alerts": [{"name", "status", "labels", "severity", "summary", "value"}]}."""
        return _accept(
            "generic",
            cfg().ingest.generic,
            lambda b: payloads.from_generic(payloads.GenericPayload.model_validate(b), utcnow()),
        )


def inbox_dict(row: InboxItem) -> dict[str, Any]:
    """An inbox row as the API answers it, its state (pending, processed or failed) derived from its times
    and error."""
    state = "pending" if row.processed_at is None else "failed" if row.error is not None else "processed"
    return {
        "id": row.id,
        "source": row.source,
        "received_at": iso(row.received_at),
        "processed_at": iso(row.processed_at),
        "state": state,
        "error": row.error,
        "item": row.item,
    }


@ns.route("/inbox")
class Inbox(decorators.Resource):
    """/api/v1/ingest/inbox: what the webhooks received and whether it was processed."""

    @decorators.require("viewer")
    @ns.expect(inbox_filters)
    @ns.marshal_with(inbox_page)
    def get(self) -> dict[str, Any]:
        """Received alerts, newest first; state=failed lists the quarantined ones with their error."""
        a = inbox_filters.parse_args(strict=True)
        stmt = newest_first(InboxItem, a, *_STATES.get(a["state"] or "", ()))
        with db().read() as session:
            rows, next_cursor = page(list(session.scalars(stmt)), a["limit"])
            return {"items": [inbox_dict(r) for r in rows], "next_cursor": next_cursor}
