"""Read the audit log and verify its hash chain."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.audit import service
from app.auth.decorators import Resource, require
from app.db import iso
from app.web import db, page_parser, utc_datetime

ns = Namespace("audit", description="Append-only, hash-chained audit log")

record_out = ns.model(
    "AuditRecord",
    {
        "id": fields.Integer,
        "at": fields.String,
        "actor": fields.String,
        "action": fields.String,
        "target": fields.String,
        "details": fields.Raw,
        "hash": fields.String,
        "prev_hash": fields.String,
    },
)
page_out = ns.model("AuditPage", {"items": fields.List(fields.Nested(record_out)), "next_cursor": fields.Integer})
verify_out = ns.model(
    "AuditVerification",
    {
        "ok": fields.Boolean,
        "checked": fields.Integer,
        "first_broken_id": fields.Integer,
        "reason": fields.String,
    },
)

filters = page_parser()
filters.add_argument("actor", location="args")
filters.add_argument("action", location="args")
filters.add_argument("target", location="args")
filters.add_argument("since", type=utc_datetime, location="args")
filters.add_argument("until", type=utc_datetime, location="args")


@ns.route("")
class AuditLog(Resource):
    """/api/v1/audit: the audit records, filtered and paged."""

    @require("viewer")
    @ns.expect(filters)
    @ns.marshal_with(page_out)
    def get(self) -> dict[str, Any]:
        """Audit records, newest first, with filters and cursor pagination."""
        args = filters.parse_args(strict=True)
        query = service.AuditQuery(
            **{k: args[k] for k in ("actor", "action", "target", "since", "until", "cursor", "limit")}
        )
        with db().read() as session:
            rows, next_cursor = service.search(session, query)
            items = [
                {
                    "id": r.id,
                    "at": iso(r.at),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "details": r.details,
                    "hash": r.hash,
                    "prev_hash": r.prev_hash,
                }
                for r in rows
            ]
        return {"items": items, "next_cursor": next_cursor}


@ns.route("/verify")
class AuditVerify(Resource):
    """/api/v1/audit/verify: whether the hash chain is intact."""

    @require("viewer")
    @ns.marshal_with(verify_out)
    def get(self) -> Any:
        """Walk the hash chain; report the first broken link, if any."""
        with db().read() as session:
            return service.verify(session).__dict__
