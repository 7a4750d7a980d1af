"""Alert history (filters in the URL, keyset pages), firing alerts as JSON, one alert, ack,
bulk acknowledge and un-acknowledge."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.alerts import service
from app.alerts.links import alert_links
from app.alerts.models import Alert
from app.alerts.service import AlertQuery
from app.automation.models import Execution
from app.dashboard.blueprint import back, bp, object_id, perform
from app.dashboard.display import alert_duration, chart_data, utc
from app.dashboard.filters import STATE_CHOICES, AlertFilters
from app.dashboard.session import actor, require
from app.dashboard.suspects import suspect_charts
from app.db import utcnow
from app.diagnostics import service as diagnostics
from app.errors import ConflictError
from app.web import cfg, db, page
from config.vocabulary import SEVERITIES

FIRING_LIMIT = 50
MAX_BULK = 200


@bp.get("/alerts")
def alerts() -> Any:
    """The alerts page: a filtered page of alerts, and on the unfiltered first page the firing-now panel."""
    filters = AlertFilters.parse(request.args)
    now = utcnow()
    query = filters.query(now)
    with db().read() as s:
        rows, next_cursor = page(service.search(s, query), query.limit)
        firing = [] if filters.active or filters.cursor else _firing(s)
    return render_template(
        "dashboard/alerts.html",
        alerts=rows,
        filters=filters,
        next_cursor=next_cursor,
        firing=firing,
        states=STATE_CHOICES,
        severities=SEVERITIES,
        detectors=[d.name for d in cfg().detectors],
    )


@bp.get("/alerts/firing.json")
def firing_json() -> Any:
    """What the alerts page polls to refresh its "firing now" panel without a reload."""
    with db().read() as s:
        rows = _firing(s)
    now = utcnow()
    return jsonify(
        {
            "at": now.isoformat(),
            "items": [
                {
                    "id": a.id,
                    "detector": a.detector,
                    "severity": a.severity,
                    "labels": a.labels,
                    "message": a.message,
                    "acked": a.acked_at is not None,
                    "started": utc(a.started_at),
                    "duration": alert_duration(a, now),
                    "url": url_for("dashboard.alert", alert_id=a.id),
                }
                for a in rows
            ],
        }
    )


def _firing(session: Any) -> list[Alert]:
    return service.search(session, AlertQuery(states=("firing",), limit=FIRING_LIMIT))[:FIRING_LIMIT]


@bp.get("/alerts/<alert_id>")
def alert(alert_id: str) -> Any:
    """One alert's page: its evidence chart, timeline, executions, diagnosis suspects and links."""
    number = object_id(alert_id, "alert")
    with db().read() as s:
        row = service.get(s, number)
        events = service.events(s, number)
        executions = list(
            s.scalars(select(Execution).where(Execution.alert_id == number).order_by(Execution.id.desc()).limit(100))
        )
        diagnosis = diagnostics.latest_result(s, number)
    chart = chart_data(row.evidence or {}, threshold=row.threshold, title=row.detector)
    annotations = (row.evidence or {}).get("annotations") if row.source != "detector" else None
    return render_template(
        "dashboard/alert.html",
        alert=row,
        events=events,
        executions=executions,
        chart=chart,
        suspects=suspect_charts(diagnosis),
        links=alert_links(row.evidence),
        annotations=annotations if isinstance(annotations, dict) else {},
    )


@bp.post("/alerts/<alert_id>/ack")
@require("operator")
def ack(alert_id: str) -> Any:
    """Acknowledge the alert (with an optional comment) and go back to its page."""
    number = object_id(alert_id, "alert")
    comment = request.form.get("comment", "").strip()[:1000]
    return perform(
        lambda s, by, now: service.acknowledge(s, alert_id=number, by=by, now=now, comment=comment),
        f"Alert {number} acknowledged.",
        url_for("dashboard.alert", alert_id=number),
    )


@bp.post("/alerts/bulk")
@require("operator")
def bulk() -> Response:
    """Acknowledge (or take back the acknowledgement of) the alerts ticked on the list."""
    action = request.form.get("action", "")
    if action not in ("ack", "unack"):
        return _bulk_refused(f"action must be ack or unack; got {action[:40]!r}")
    raw = request.form.getlist("alert")
    if not raw or len(raw) > MAX_BULK:
        return _bulk_refused(f"tick between 1 and {MAX_BULK} alerts" if raw else "tick at least one alert")
    ids = sorted({object_id(v, "alert") for v in raw})
    done, skipped, now, by = 0, 0, utcnow(), actor()
    with db().write() as s:
        for alert_id in ids:
            if action == "unack":
                done += service.get(s, alert_id).acked_at is not None
                service.unacknowledge(s, alert_id=alert_id, by=by, now=now)
                continue
            try:
                was = service.get(s, alert_id).acked_at
                service.acknowledge(s, alert_id=alert_id, by=by, now=now, comment="bulk acknowledge")
                done += was is None
            except ConflictError:
                skipped += 1  # resolved meanwhile: nothing to acknowledge
    verb = "Acknowledged" if action == "ack" else "Took back the acknowledgement of"
    flash(
        f"{verb} {done} alert{'s' if done != 1 else ''}" + (f"; {skipped} resolved, skipped" if skipped else "") + ".",
        "ok",
    )
    return redirect(back(url_for("dashboard.alerts")))


def _bulk_refused(message: str) -> Response:
    flash(message, "error")
    return redirect(back(url_for("dashboard.alerts")))
