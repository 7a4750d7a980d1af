"""Alert history (filters in the URL, keyset pages), firing alerts as JSON, one alert, ack."""
from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request, url_for
from sqlalchemy import select

from app.alerts import service
from app.alerts.models import Alert
from app.alerts.service import AlertQuery
from app.automation.models import Execution
from app.dashboard.blueprint import bp, object_id, perform
from app.dashboard.display import alert_duration, chart_data, utc
from app.dashboard.suspects import suspect_charts
from app.dashboard.filters import SEVERITIES, STATE_CHOICES, AlertFilters
from app.dashboard.session import require
from app.db import utcnow
from app.diagnostics import service as diagnostics
from app.web import cfg, db, page

FIRING_LIMIT = 50


@bp.get("/alerts")
def alerts() -> Any:
    filters = AlertFilters.parse(request.args)
    now = utcnow()
    query = filters.query(now)
    with db().read() as s:
        rows, next_cursor = page(service.search(s, query), query.limit)
        firing = [] if filters.active or filters.cursor else _firing(s)
    return render_template("dashboard/alerts.html", alerts=rows, filters=filters, next_cursor=next_cursor,
                           firing=firing, states=STATE_CHOICES, severities=SEVERITIES,
                           detectors=[d.name for d in cfg().detectors])


@bp.get("/alerts/firing.json")
def firing_json() -> Any:
    """What the alerts page polls to refresh its "firing now" panel without a reload."""
    with db().read() as s:
        rows = _firing(s)
    now = utcnow()
    return jsonify({"at": now.isoformat(), "items": [
        {"id": a.id, "detector": a.detector, "severity": a.severity, "labels": a.labels, "message": a.message,
         "acked": a.acked_at is not None, "started": utc(a.started_at), "duration": alert_duration(a, now),
         "url": url_for("dashboard.alert", alert_id=a.id)} for a in rows]})


def _firing(session: Any) -> list[Alert]:
    return service.search(session, AlertQuery(states=("firing",), limit=FIRING_LIMIT))[:FIRING_LIMIT]


@bp.get("/alerts/<alert_id>")
def alert(alert_id: str) -> Any:
    number = object_id(alert_id, "alert")
    with db().read() as s:
        row = service.get(s, number)
        events = service.events(s, number)
        executions = list(s.scalars(select(Execution).where(Execution.alert_id == number)
                                    .order_by(Execution.id.desc()).limit(100)))
        diagnosis = diagnostics.latest_result(s, number)
    chart = chart_data(row.evidence or {}, threshold=row.threshold, title=row.detector)
    return render_template("dashboard/alert.html", alert=row, events=events, executions=executions, chart=chart,
                           suspects=suspect_charts(diagnosis))


@bp.post("/alerts/<alert_id>/ack")
@require("operator")
def ack(alert_id: str) -> Any:
    number = object_id(alert_id, "alert")
    comment = request.form.get("comment", "").strip()[:1000]
    return perform(lambda s, by, now: service.acknowledge(s, alert_id=number, by=by, now=now, comment=comment),
                   f"Alert {number} acknowledged.", url_for("dashboard.alert", alert_id=number))
