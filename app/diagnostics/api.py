"""Diagnoses under /api/v1/alerts/<id>: read the ranked suspects, ask for a (new) run."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, fields

from app.auth.decorators import Resource, actor, require
from app.db import utcnow
from app.diagnostics import service
from app.web import cfg, db

ns = Namespace("diagnostics", description="Signals that changed with an alert, likely causes first")

series_out = ns.model("DiagnosisSeries", {"t": fields.List(fields.Float), "v": fields.List(fields.Float)})
suspect_out = ns.model(
    "Suspect",
    {
        "labels": fields.Raw,
        "change_at_s": fields.Float,
        "lead_s": fields.Float,
        "before": fields.Float,
        "after": fields.Float,
        "effect_sigma": fields.Float,
        "z": fields.Float,
        "direction": fields.String,
        "score": fields.Float,
        "series": fields.Nested(series_out),
    },
)
diagnosis_out = ns.model(
    "Diagnosis",
    {
        "alert_id": fields.Integer,
        "state": fields.String(enum=["queued", "running", "done", "failed"]),
        "requested_at": fields.String,
        "requested_by": fields.String,
        "not_before": fields.String,
        "started_at": fields.String,
        "finished_at": fields.String,
        "error": fields.String,
        "runner": fields.String(
            description='who holds or ran it: the scheduler, "rq" (handed to Redis Queue) or "rq-worker:<name>"'
        ),
        "signals": fields.Integer,
        "analysed": fields.Integer,
        "changed": fields.Integer,
        "fetch_s": fields.Float,
        "analyse_s": fields.Float,
        "window": fields.Raw,
        "suspects": fields.List(fields.Nested(suspect_out)),
    },
)


@ns.route("/<int:alert_id>/diagnosis")
class AlertDiagnosis(Resource):
    """/api/v1/alerts/<id>/diagnosis: the alert's latest diagnosis."""

    @require("viewer")
    @ns.response(404, "No such alert, or never diagnosed")
    @ns.marshal_with(diagnosis_out)
    def get(self, alert_id: int) -> dict[str, Any]:
        """The alert's diagnosis: its state and the ranked suspects (best first)."""
        with db().read() as session:
            return service.get(session, alert_id).as_dict()


@ns.route("/<int:alert_id>/diagnose")
class AlertDiagnose(Resource):
    """/api/v1/alerts/<id>/diagnose: ask for a (new) diagnosis of the alert."""

    @require("operator")
    @ns.response(202, "Queued", diagnosis_out)
    @ns.response(404, "No such alert")
    @ns.response(409, "The alert's detector has no diagnose: block")
    def post(self, alert_id: int) -> tuple[dict[str, Any], int]:
        """Diagnose the alert (again); the scheduler (or an RQ worker) runs it once its window is complete."""
        with db().write() as session:
            row = service.request(session, cfg(), alert_id=alert_id, by=actor(), now=utcnow())
            return ns.marshal(row.as_dict(), diagnosis_out), 202
