"""POST /api/v1/bindings/rehearse: what a binding would have done over stored history."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_restx import Namespace, fields

from app.auth.decorators import Resource, require
from app.db import utcnow
from app.rehearsal import service, spec
from app.web import db

ns = Namespace("bindings", description="Which alerts run which remediation")

rehearse_in = ns.model("BindingRehearsal", {
    "name": fields.String(required=True), "remediation": fields.String(required=True),
    "detector": fields.String, "matchers": fields.Raw, "severities": fields.List(fields.String),
    "params": fields.Raw, "mode": fields.String, "cooldown": fields.Raw, "rate_limit": fields.Integer,
    "rate_window": fields.Raw, "breaker_threshold": fields.Integer,
    "since": fields.String(description="ISO-8601 time or a duration before now (30d); default 30 days "
                                       "before until"),
    "until": fields.String(description="ISO-8601 time or a duration before now; default now"),
})


@ns.route("/rehearse")
class Rehearse(Resource):
    @require("operator")
    @ns.expect(rehearse_in, validate=False)
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
