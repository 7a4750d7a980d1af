"""Any list as CSV: the same filters as the page (one shared parser), newest first, streamed
in keyset pages of 1,000 rows, at most 100,000 rows per download (`cursor` continues)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from flask import Response, request, stream_with_context
from sqlalchemy import select

from app.alerts import service as alerts
from app.audit.models import AuditRecord
from app.automation.models import Execution
from app.dashboard.audit_views import audit_query
from app.dashboard.automation_views import execution_query
from app.dashboard.blueprint import bp
from app.dashboard.filters import AlertFilters, positive_int
from app.db import utcnow
from app.reports.csvstream import MAX_ROWS, keyset, lines
from app.web import db

ALERT_COLUMNS = (
    "id",
    "detector",
    "severity",
    "state",
    "labels",
    "message",
    "value",
    "threshold",
    "started_at",
    "fired_at",
    "resolved_at",
    "acked_at",
    "acked_by",
    "source",
    "kind",
    "fingerprint",
)
EXECUTION_COLUMNS = (
    "id",
    "remediation",
    "version",
    "alert_id",
    "state",
    "reason",
    "trigger",
    "triggered_by",
    "approved_by",
    "queued_at",
    "started_at",
    "finished_at",
    "duration_s",
    "exit_code",
    "outcome",
    "recovery_s",
)
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target", "details")


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A streamed CSV download; rows are read while the response is written."""
    response = Response(stream_with_context(lines(header, rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    response.headers["X-Vigil-Export-Limit"] = str(MAX_ROWS)
    return response


def export(name: str, model: Any, conditions: list[Any], columns: Sequence[str]) -> Response:
    """Rows of `model` matching `conditions` (parsed from the URL by the list's page) below
    the request's cursor, newest first."""
    base = select(model).where(*conditions).order_by(model.id.desc())

    def fetch(cursor: int | None, limit: int) -> list[Any]:
        with db().read() as s:
            return list(s.scalars(base.where(model.id < cursor).limit(limit) if cursor else base.limit(limit)))

    cursor = positive_int(request.args.get("cursor"), "cursor")  # parsed before the first byte is sent
    rows = ([getattr(row, c) for c in columns] for row in keyset(fetch, cursor=cursor))
    return csv_response(f"vigil-{name}", columns, rows)


@bp.get("/alerts.csv")
def alerts_csv() -> Any:
    """The alerts list as CSV, with the alerts page's filters, streamed newest first."""
    filters = AlertFilters.parse(request.args)  # a bad filter is a 400 before any byte is sent
    query = filters.query(utcnow())

    def fetch(cursor: int | None, limit: int) -> list[dict[str, Any]]:
        # The list's own fast path: each alert's stored JSON, a quarter of the ORM's cost.
        with db().read_connection() as connection:
            items, _next = alerts.search_json(connection, replace(query, cursor=cursor, limit=limit))
        return [json.loads(item) for item in items]

    rows = ([a.get(c) for c in ALERT_COLUMNS] for a in keyset(fetch, cursor=query.cursor))
    return csv_response("vigil-alerts", ALERT_COLUMNS, rows)


@bp.get("/executions.csv")
def executions_csv() -> Any:
    """The executions list as CSV, with the executions page's filters."""
    return export("executions", Execution, execution_query()[1].conditions(), EXECUTION_COLUMNS)


@bp.get("/audit.csv")
def audit_csv() -> Any:
    """The audit records as CSV, with the audit page's filters."""
    return export("audit", AuditRecord, audit_query()[1].conditions(), AUDIT_COLUMNS)
