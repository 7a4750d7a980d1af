"""POST /api/v1/bindings/rehearse: what a binding would have done over stored history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request
from flask_restx import Namespace, fields

from app.auth.decorators import Resource, actor, require
from app.automation import bindings as binding_service
from app.db import utcnow
from app.errors import BadRequestError, ServiceError
from app.rehearsal import detector, service, shadow, spec
from app.web import cfg, db
from detectors.errors import SourceError

ns = Namespace("bindings", description="Which alerts run which remediation")

rehearse_in = ns.model(
    "BindingRehearsal",
    {
        "name": fields.String(required=True),
        "remediation": fields.String(required=True),
        "detector": fields.String,
        "matchers": fields.Raw,
        "severities": fields.List(fields.String),
        "params": fields.Raw,
        "mode": fields.String(enum=["auto", "approve", "dry_run", "shadow"]),
        "cooldown": fields.Raw,
        "rate_limit": fields.Integer,
        "rate_window": fields.Raw,
        "breaker_threshold": fields.Integer,
        "since": fields.String(
            description="ISO-8601 time or a duration before now (30d); default 30 days before until"
        ),
        "until": fields.String(description="ISO-8601 time or a duration before now; default now"),
    },
)


@ns.route("/rehearse")
class Rehearse(Resource):
    """/api/v1/bindings/rehearse: what a binding spec would have done over past alerts."""

    @require("operator")
    @ns.expect(rehearse_in, validate=False)
    @ns.response(200, "Runs, skips and why, counts per day, the busiest hour (see README, Rehearsal)")
    @ns.response(400, "Invalid binding or period")
    def post(self) -> dict[str, Any]:
        """Replay the stored alert history of a period through a binding spec (runs, skips and why)."""
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return spec.binding_spec(body)  # type: ignore[return-value]  # raises the 400
        now = utcnow()
        since = spec.moment(body.pop("since", None), "since", now)
        until = spec.moment(body.pop("until", None), "until", now)
        binding = spec.binding_spec(body)
        since, until = service.period(since, until, now)
        with db().read() as session:
            return service.rehearse(session, binding, since=since, until=until)


def _period() -> tuple[datetime, datetime]:
    now = utcnow()
    since = spec.moment(request.args.get("since"), "since", now)
    until = spec.moment(request.args.get("until"), "until", now)
    return service.period(since, until, now)


@ns.route("/<int:binding_id>/shadow-report")
class ShadowReport(Resource):
    """/api/v1/bindings/<id>/shadow-report: what a shadow binding decided live."""

    @require("viewer")
    @ns.doc(
        params={
            "since": "ISO-8601 time or a duration before now (default 30 days before until)",
            "until": "ISO-8601 time or a duration before now (default now)",
        }
    )
    @ns.response(200, "The binding's recorded decisions, in the shape of a rehearsal")
    @ns.response(400, "Invalid period")
    @ns.response(404, "No such binding")
    def get(self, binding_id: int) -> dict[str, Any]:
        """What the binding decided live over the period, in the shape of a rehearsal."""
        since, until = _period()
        with db().read() as session:
            return shadow.report(session, binding_service.get(session, binding_id), since=since, until=until)


@ns.route("/<int:binding_id>/promote")
class Promote(Resource):
    """/api/v1/bindings/<id>/promote: turn a shadow binding into an automatic one (admin)."""

    @require("admin")
    @ns.doc(params={"since": "start of the shadow period summarised in the audit record (default 30 days)"})
    @ns.response(200, "The binding, now in mode auto")
    @ns.response(400, "Invalid period")
    @ns.response(404, "No such binding")
    @ns.response(409, "The binding is not in mode shadow")
    def post(self, binding_id: int) -> dict[str, Any]:
        """Switch a shadow binding to auto; the audit record carries its shadow report's summary."""
        since, until = _period()
        with db().write() as session:
            return binding_service.as_dict(
                shadow.promote(session, binding_id=binding_id, by=actor(), since=since, until=until)
            )


class SourceUnavailable(ServiceError):
    """The metric's history could not be fetched (502): the source's fault, not the request's."""

    status = 502  # the metric's history could not be fetched: the source's fault, not the request's


detectors_ns = Namespace("detectors", description="Detector definitions, status and preview")
detector_rehearse_in = detectors_ns.model(
    "DetectorRehearsal",
    {
        "definition": fields.Raw(description="changes to the configured definition, e.g. a new analysis"),
        "since": fields.String(description="ISO-8601 time or a duration before now; default 30 days before until"),
        "until": fields.String(description="ISO-8601 time or a duration before now; default now"),
    },
)


@detectors_ns.route("/<string:name>/rehearse")
class DetectorRehearse(Resource):
    """/api/v1/detectors/<name>/rehearse: a detector (or changes to it) replayed over its metric's history."""

    @require("operator")
    @detectors_ns.expect(detector_rehearse_in, validate=False)
    @detectors_ns.response(200, "Alerts same, shifted, added and removed against those actually raised")
    @detectors_ns.response(400, "Invalid definition or period")
    @detectors_ns.response(404, "No such detector")
    @detectors_ns.response(502, "The detector's source could not answer")
    def post(self, name: str) -> dict[str, Any]:
        """Replay the detector over its metric's real history; compare with the alerts actually raised."""
        body = request.get_json(silent=True) or {}
        if not isinstance(body, dict):
            raise BadRequestError("expected an object", {"body": "expected an object"})
        since, until = detector.period(body.get("since"), body.get("until"), utcnow())
        definition = detector.definition(cfg(), name, body.get("definition"))
        try:
            with db().read() as session:
                return detector.rehearse(session, cfg(), definition, since=since, until=until)
        except SourceError as exc:
            raise SourceUnavailable(str(exc), {"source": definition.source}) from None
