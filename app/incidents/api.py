"""Incidents: the list (newest first, keyset pages) and one incident with members and timeline."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.alerts.api import alert_out
from app.auth.decorators import Resource, require
from app.incidents import service
from app.incidents.models import STATES
from app.web import db, page, page_parser, utc_datetime

ns = Namespace("incidents", description="Alerts folded into incidents (re-fires and one group within a window)")

incident_out = ns.model(
    "Incident",
    {
        "id": fields.Integer,
        "detector": fields.String,
        "group_labels": fields.Raw,
        "severity": fields.String,
        "state": fields.String(enum=list(STATES)),
        "started_at": fields.String,
        "updated_at": fields.String,
        "resolved_at": fields.String,
        "alert_count": fields.Integer,
        "open_count": fields.Integer,
    },
)
incident_page = ns.model(
    "IncidentPage", {"items": fields.List(fields.Nested(incident_out)), "next_cursor": fields.Integer}
)
timeline_out = ns.model(
    "IncidentEvent",
    {
        "id": fields.Integer,
        "alert_id": fields.Integer,
        "at": fields.String,
        "kind": fields.String,
        "actor": fields.String,
        "details": fields.Raw,
        "labels": fields.Raw,
    },
)
incident_detail = ns.inherit(
    "IncidentDetail",
    incident_out,
    {
        "alerts": fields.List(fields.Nested(alert_out), description=f"newest first, at most {service.MAX_MEMBERS}"),
        "timeline": fields.List(
            fields.Nested(timeline_out),
            description=f"every member's events in time order, at most {service.MAX_TIMELINE}",
        ),
    },
)

filters = page_parser()
filters.add_argument("state", choices=STATES, location="args")
filters.add_argument("severity", choices=("info", "warning", "critical"), location="args")
filters.add_argument("detector", location="args")
filters.add_argument("since", type=utc_datetime, location="args", help="started at or after")
filters.add_argument("until", type=utc_datetime, location="args", help="started before")


@ns.route("")
class Incidents(Resource):
    """/api/v1/incidents: incidents, filtered and paged by cursor."""

    @require("viewer")
    @ns.expect(filters)
    @ns.marshal_with(incident_page)
    def get(self) -> dict[str, Any]:
        """Incidents, newest first; filter by state, severity, detector and start time."""
        a = filters.parse_args(strict=True)
        query = service.IncidentQuery(
            state=a["state"],
            severity=a["severity"],
            detector=a["detector"],
            since=a["since"],
            until=a["until"],
            cursor=a["cursor"],
            limit=a["limit"],
        )
        with db().read() as session:
            rows, next_cursor = page(service.search(session, query), query.limit)
            return {"items": [r.as_dict() for r in rows], "next_cursor": next_cursor}


@ns.route("/<int:incident_id>")
class IncidentDetail(Resource):
    """/api/v1/incidents/<id>: one incident with its alerts and their merged timeline."""

    @require("viewer")
    @ns.response(404, "No such incident")
    @ns.marshal_with(incident_detail)
    def get(self, incident_id: int) -> dict[str, Any]:
        """One incident: its member alerts and their events merged in time order."""
        with db().read() as session:
            incident = service.get(session, incident_id)
            return {
                **incident.as_dict(),
                "alerts": [a.as_dict() for a in service.members(session, incident_id)],
                "timeline": [service.timeline_dict(e, a) for e, a in service.timeline(session, incident_id)],
            }
