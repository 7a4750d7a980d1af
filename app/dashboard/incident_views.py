"""Incidents: the list (filters in the URL, keyset pages) and one incident with its members
and their events merged into one timeline."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from app.dashboard.blueprint import bp, object_id
from app.dashboard.filters import PAGE_SIZE, bad, choice, positive_int, text, when
from app.incidents import service
from app.incidents.models import STATES
from app.web import cfg, db, page
from config.vocabulary import SEVERITIES


@bp.get("/incidents")
def incidents() -> Any:
    """The incidents page: a page of incidents filtered by state, severity, detector and time."""
    args = request.args
    since, until = when(args, "since"), when(args, "until")
    if since and until and since >= until:
        bad("since must be earlier than until")
    filters = {
        "state": choice(args, "state", STATES),
        "severity": choice(args, "severity", SEVERITIES),
        "detector": text(args, "detector"),
        "since": text(args, "since"),
        "until": text(args, "until"),
    }
    cursor = positive_int(args.get("cursor"), "cursor")
    query = service.IncidentQuery(
        state=filters["state"] or None,
        severity=filters["severity"] or None,
        detector=filters["detector"] or None,
        since=since,
        until=until,
        cursor=cursor,
        limit=PAGE_SIZE,
    )
    with db().read() as s:
        rows, next_cursor = page(service.search(s, query), PAGE_SIZE)
    active = {k: v for k, v in filters.items() if v}
    return render_template(
        "dashboard/incidents.html",
        incidents=rows,
        filters=active,
        next_cursor=next_cursor,
        cursor=cursor,
        states=STATES,
        severities=SEVERITIES,
        detectors=[d.name for d in cfg().detectors],
    )


@bp.get("/incidents/<incident_id>")
def incident(incident_id: str) -> Any:
    """One incident's page: its member alerts and its timeline."""
    number = object_id(incident_id, "incident")
    with db().read() as s:
        row = service.get(s, number)
        members = service.members(s, number)
        timeline = service.timeline(s, number)
    return render_template(
        "dashboard/incident.html",
        incident=row,
        members=members,
        timeline=timeline,
        more_members=row.alert_count > len(members),
        max_timeline=service.MAX_TIMELINE,
    )
