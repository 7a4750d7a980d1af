"""GET /api/v1/reports: the reports page's numbers as JSON."""

from __future__ import annotations

from typing import Any

from flask_restx import Namespace, reqparse

from app.auth.decorators import Resource, require
from app.db import utcnow
from app.reports import service
from app.web import db

ns = Namespace("reports", description="Alert volume, response times, noisy detectors, remediation results")

args = reqparse.RequestParser(bundle_errors=True)
args.add_argument(
    "range",
    choices=tuple(service.RANGES),
    default=service.DEFAULT_RANGE,
    location="args",
    help="how far back: 24h (hourly buckets), 7d (6 h), 30d or 90d (daily; reused for up to 60 s)",
)


@ns.route("")
class Report(Resource):
    """/api/v1/reports: the operations report for a range."""

    @require("viewer")
    @ns.expect(args)
    @ns.response(200, "The report (see the README's Reports section for each field)")
    def get(self) -> dict[str, Any]:
        """Alert volume by severity and detector per bucket, mean time to acknowledge and resolve,
        detectors by alerts raised, remediation runs, success and effectiveness per bucket."""
        a = args.parse_args(strict=True)
        return service.cached_report(db(), a["range"], utcnow())
