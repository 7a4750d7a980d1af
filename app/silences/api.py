"""Silences and maintenance windows (operator; matching everything needs admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_restx import Namespace, fields

from app.auth.decorators import Resource, actor, current_principal, require
from app.db import iso, utcnow
from app.errors import BadRequestError
from app.silences import service
from app.silences.models import Silence
from app.web import cfg, db, newest_first, page, page_parser, utc_datetime
from config.units import parse_duration

ns = Namespace("silences", description="Silences and maintenance windows")

matcher = ns.model(
    "Matcher",
    {
        "name": fields.String(required=True),
        "op": fields.String(enum=list(service.OPS), default="="),
        "value": fields.String(required=True),
    },
    strict=True,
)
silence_in = ns.model(
    "SilenceCreate",
    {
        "matchers": fields.List(fields.Nested(matcher), required=True),
        "comment": fields.String(required=True, max_length=2000),
        "starts_at": fields.String(description="ISO-8601; default now"),
        "ends_at": fields.String(description="ISO-8601; or give duration"),
        "duration": fields.String(description="e.g. 2h, instead of ends_at"),
    },
    strict=True,
)
silence_out = ns.model(
    "Silence",
    {
        "id": fields.Integer,
        "matchers": fields.List(fields.Nested(matcher)),
        "starts_at": fields.String,
        "ends_at": fields.String,
        "created_at": fields.String,
        "created_by": fields.String,
        "comment": fields.String,
        "expired_by": fields.String,
        "active": fields.Boolean,
    },
)
preview_in = ns.model(
    "SilencePreviewRequest", {"matchers": fields.List(fields.Nested(matcher), required=True)}, strict=True
)
preview_alert = ns.model(
    "SilencePreviewAlert",
    {
        "id": fields.Integer,
        "detector": fields.String,
        "labels": fields.Raw,
        "severity": fields.String,
        "state": fields.String,
        "message": fields.String,
        "started_at": fields.String,
    },
)
preview_out = ns.model(
    "SilencePreview",
    {
        "items": fields.List(fields.Nested(preview_alert), description="the newest matching open alerts (50 at most)"),
        "total": fields.Integer(description="how many open alerts match"),
        "complete": fields.Boolean(description="false when there were more open alerts than were looked at"),
        "allowed": fields.Boolean(description="whether the caller may create a silence with these matchers"),
        "reason": fields.String(description="why not, when allowed is false"),
    },
)
silence_page = ns.model(
    "SilencePage", {"items": fields.List(fields.Nested(silence_out)), "next_cursor": fields.Integer}
)

filters = page_parser()
filters.add_argument("active", type=lambda v: v.lower() in ("1", "true", "yes"), location="args")


def silence_dict(s: Silence) -> dict[str, Any]:
    """One silence as the API shows it; active means in force now."""
    now = utcnow()
    return {
        "id": s.id,
        "matchers": s.matchers,
        "starts_at": iso(s.starts_at),
        "ends_at": iso(s.ends_at),
        "created_at": iso(s.created_at),
        "created_by": s.created_by,
        "comment": s.comment,
        "expired_by": s.expired_by,
        "active": s.starts_at <= now < s.ends_at,
    }


def _time(body: dict[str, Any], key: str) -> Any:
    try:
        return utc_datetime(body[key])
    except ValueError as exc:
        raise BadRequestError(f"{key}: {exc}", {key: str(exc)}) from None


@ns.route("")
class Silences(Resource):
    """/api/v1/silences: list and create silences."""

    @require("viewer")
    @ns.expect(filters)
    @ns.marshal_with(silence_page)
    def get(self) -> dict[str, Any]:
        """Silences, newest first; active=true for those in force now."""
        a = filters.parse_args(strict=True)
        now = utcnow()
        active = (Silence.starts_at <= now, Silence.ends_at > now) if a["active"] else ()
        stmt = newest_first(Silence, a, *active)
        with db().read() as session:
            rows, next_cursor = page(list(session.scalars(stmt)), a["limit"])
            return {"items": [silence_dict(s) for s in rows], "next_cursor": next_cursor}

    @require("operator")
    @ns.expect(silence_in, validate=True)
    @ns.response(201, "Created", silence_out)
    @ns.response(400, "Invalid matchers or times, or a matcher that matches everything (admin only)")
    def post(self) -> Any:
        """Create a silence; the creator comes from the token and a comment is required."""
        body = ns.payload
        now = utcnow()
        starts_at = _time(body, "starts_at") if body.get("starts_at") else now
        if body.get("ends_at"):
            ends_at = _time(body, "ends_at")
        elif body.get("duration"):
            try:
                ends_at = starts_at + timedelta(seconds=parse_duration(body["duration"]))
            except ValueError as exc:
                raise BadRequestError(f"duration: {exc}", {"duration": str(exc)}) from None
        else:
            raise BadRequestError("give ends_at or duration", {"ends_at": "required (or duration)"})
        principal = current_principal()
        with db().write() as session:
            silence = service.create(
                session,
                matchers=service.parse_matchers(body["matchers"]),
                starts_at=starts_at,
                ends_at=ends_at,
                comment=body["comment"],
                by=actor(),
                is_admin=bool(principal and principal.has("admin")),
                max_duration_s=cfg().settings.silences.max_duration,
                now=now,
            )
            return silence_dict(silence), 201


@ns.route("/<int:silence_id>")
class SilenceDetail(Resource):
    """/api/v1/silences/<id>: end a silence now."""

    @require("operator")
    @ns.response(404, "No such silence")
    @ns.response(409, "Already ended")
    @ns.marshal_with(silence_out)
    def delete(self, silence_id: int) -> dict[str, Any]:
        """Expire a silence now (it stays in history)."""
        with db().write() as session:
            return silence_dict(service.expire(session, silence_id=silence_id, by=actor(), now=utcnow()))


@ns.route("/preview")
class SilencePreview(Resource):
    """/api/v1/silences/preview: the open alerts some matchers would silence."""

    @require("viewer")
    @ns.expect(preview_in, validate=True)
    @ns.response(400, "Invalid matchers")
    @ns.marshal_with(preview_out)
    def post(self) -> dict[str, Any]:
        """Which open alerts these matchers would silence now (nothing is created)."""
        matchers = service.parse_matchers(ns.payload["matchers"])
        principal = current_principal()
        reason = service.refusal(matchers, role=principal.role if principal else None)
        with db().read() as session:
            found = service.preview(session, matchers)
            items = [
                {
                    "id": a.id,
                    "detector": a.detector,
                    "labels": a.labels,
                    "severity": a.severity,
                    "state": a.state,
                    "message": a.message,
                    "started_at": iso(a.started_at),
                }
                for a in found.alerts
            ]
        return {
            "items": items,
            "total": found.total,
            "complete": found.complete,
            "allowed": not reason,
            "reason": reason,
        }
