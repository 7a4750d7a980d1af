"""The reports page (charts and tables over a period) and its tables as CSV."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from app.dashboard.blueprint import bp
from app.dashboard.exports_views import csv_response
from app.dashboard.filters import choice
from app.db import utcnow
from app.reports import service
from app.web import db

TABLES = {
    "detectors": (
        "detector",
        "alerts",
        "share",
        "critical",
        "warning",
        "info",
        "acked",
        "resolved",
        "mtta_s",
        "mttr_s",
    ),
    "remediations": (
        "remediation",
        "runs",
        "succeeded",
        "success_rate",
        "effective",
        "not_effective",
        "not_applicable",
        "effectiveness_rate",
    ),
    "volume": (
        "bucket_start",
        "critical",
        "warning",
        "info",
        "mtta_s",
        "mttr_s",
        "runs",
        "succeeded",
        "effective",
        "not_effective",
    ),
}


def _report() -> dict[str, Any]:
    name = choice(request.args, "range", tuple(service.RANGES)) or service.DEFAULT_RANGE
    return service.cached_report(db(), name, utcnow())


@bp.get("/reports")
def reports() -> Any:
    """The reports page for ?range= (default service.DEFAULT_RANGE)."""
    return render_template("dashboard/reports.html", report=_report(), ranges=tuple(service.RANGES))


@bp.get("/reports/<table>.csv")
def report_csv(table: str) -> Any:
    """One table of the report (detectors, remediations or volume) as CSV; 404 for any other table."""
    columns = TABLES.get(table)
    if columns is None:
        return render_template(
            "dashboard/error.html",
            status=404,
            title="Not Found",
            message=f"no report table {table[:40]!r}; there are {', '.join(TABLES)}",
        ), 404
    report = _report()
    rows = (
        report["detectors"]
        if table == "detectors"
        else report["remediation_table"]
        if table == "remediations"
        else service.volume_rows(report)
    )
    return csv_response(f"vigil-{table}-{report['range']}", columns, ([r[c] for c in columns] for r in rows))
