"""Incidents: alerts of one group that fire close together, kept as alerts change.

alerts.service calls `track` on every transition of an alert (a small hook): the first
firing attaches the alert to its group's incident (or opens one), its resolution closes the
incident once no member is open. So the list reads one row per incident, never groups
alerts per request. A group is the alert's values of `settings.incidents.group_by`
("detector" is its detector, other names labels); an alert lacking one of those labels is
grouped by detector instead, so label-less alerts of unrelated detectors never fold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Alert, AlertEvent
from app.db import get_or_404, iso
from app.incidents.models import SEVERITY_RANK, Incident
from config.schema import IncidentSettings

DEFAULT_SETTINGS = IncidentSettings()
MAX_MEMBERS = 200
MAX_TIMELINE = 500


def group_of(alert: Alert, group_by: Sequence[str]) -> dict[str, str]:
    """The values an alert folds on, by name."""
    labels = alert.labels or {}
    if any(name != "detector" and name not in labels for name in group_by):
        return {"detector": alert.detector}
    return {name: alert.detector if name == "detector" else labels[name] for name in group_by}


def group_key(values: dict[str, str]) -> str:
    """A stable id of a group's values (SHA-256 hex of them, sorted by name)."""
    return hashlib.sha256(json.dumps(sorted(values.items()), ensure_ascii=False).encode()).hexdigest()


def track(
    session: Session, alert: Alert, *, event: str, now: datetime, settings: IncidentSettings = DEFAULT_SETTINGS
) -> None:
    """Keep the alert's incident in step with one transition of the alert ('firing',
    'resolved', 'cancelled'...; others change nothing)."""
    if event == "firing" and alert.incident_id is None:
        _attach(session, alert, now, settings)
    elif alert.state == "resolved" and alert.incident_id is not None:
        _member_closed(session, alert.incident_id, now)


def _attach(session: Session, alert: Alert, now: datetime, settings: IncidentSettings) -> None:
    values = group_of(alert, settings.group_by)
    key = group_key(values)
    newest = session.scalar(
        select(Incident).where(Incident.group_key == key).order_by(Incident.id.desc()).limit(1).with_for_update()
    )
    incident = newest if newest is not None and joins(newest, alert, settings.window) else _open_one(session, key)
    if incident is None:
        incident = opened(session, alert, values, key, now)
    incident.alert_count += 1
    incident.open_count += 1
    incident.state, incident.resolved_at, incident.updated_at = "open", None, now
    widen(incident, alert)
    alert.incident_id = incident.id


def _open_one(session: Session, key: str) -> Incident | None:
    """An open incident of the group that is not its newest. Live, only the newest can be open;
    but `vigil incidents backfill` adds old incidents with higher ids, which may hide the one
    open now. Found through the few open incidents (ix_incidents_state_id)."""
    return session.scalar(
        select(Incident)
        .where(Incident.state == "open", Incident.group_key == key)
        .order_by(Incident.id.desc())
        .limit(1)
        .with_for_update()
    )


def opened(session: Session, alert: Alert, values: dict[str, str], key: str, now: datetime) -> Incident:
    """A new incident for the alert's group, with no member yet (the caller adds it)."""
    incident = Incident(
        group_key=key,
        detector=alert.detector,
        group_labels=values,
        severity=alert.severity,
        state="open",
        started_at=alert.started_at,
        updated_at=now,
        alert_count=0,
        open_count=0,
    )
    session.add(incident)
    session.flush()
    return incident


def widen(incident: Incident, alert: Alert) -> None:
    """A new member's part in its incident's start and severity."""
    incident.started_at = min(incident.started_at, alert.started_at)
    if SEVERITY_RANK.get(alert.severity, 0) > SEVERITY_RANK.get(incident.severity, 0):
        incident.severity = alert.severity


def joins(incident: Incident, alert: Alert, window_s: float) -> bool:
    """Open, or resolved no longer than `window` before the alert started (a re-fire)."""
    if incident.state == "open" or incident.resolved_at is None:
        return True
    return alert.started_at <= incident.resolved_at + timedelta(seconds=window_s)


def _member_closed(session: Session, incident_id: int, now: datetime) -> None:
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        return
    incident.open_count = max(0, incident.open_count - 1)
    incident.updated_at = now
    if incident.open_count == 0:
        incident.state, incident.resolved_at = "resolved", now


@dataclass(frozen=True)
class IncidentQuery:
    """Filters of the incident list, all ANDed; empty ones match everything. since/until bound
    started_at as [since, until); cursor is the id the previous page ended before."""

    state: str | None = None
    severity: str | None = None
    detector: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    cursor: int | None = None
    limit: int = 50


def search(session: Session, query: IncidentQuery) -> list[Incident]:
    """Newest first, keyset-paginated on id (limit + 1 rows: the caller pages them)."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(query.limit + 1)
    if query.state:
        stmt = stmt.where(Incident.state == query.state)
    if query.severity:
        stmt = stmt.where(Incident.severity == query.severity)
    if query.detector:
        stmt = stmt.where(Incident.detector == query.detector)
    if query.since:
        stmt = stmt.where(Incident.started_at >= query.since)
    if query.until:
        stmt = stmt.where(Incident.started_at < query.until)
    if query.cursor:
        stmt = stmt.where(Incident.id < query.cursor)
    return list(session.scalars(stmt))


def get(session: Session, incident_id: int) -> Incident:
    """The incident with this id. Raises NotFoundError."""
    return get_or_404(session, Incident, incident_id, "incident")


def members(session: Session, incident_id: int, limit: int = MAX_MEMBERS) -> list[Alert]:
    """The incident's alerts, newest first (its ix_alerts_incident_id_id index)."""
    return list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id.desc()).limit(limit))
    )


def timeline(session: Session, incident_id: int, limit: int = MAX_TIMELINE) -> list[tuple[AlertEvent, Alert]]:
    """Every member's events merged in time order (the first `limit`)."""
    rows = session.execute(
        select(AlertEvent, Alert)
        .join(Alert, Alert.id == AlertEvent.alert_id)
        .where(Alert.incident_id == incident_id)
        .order_by(AlertEvent.at, AlertEvent.id)
        .limit(limit)
    )
    return [(event, alert) for event, alert in rows]


def timeline_dict(event: AlertEvent, alert: Alert) -> dict[str, Any]:
    """One event of an incident's timeline as the API shows it, with its alert's id and labels."""
    return {
        "id": event.id,
        "alert_id": alert.id,
        "at": iso(event.at),
        "kind": event.kind,
        "actor": event.actor,
        "details": event.details,
        "labels": alert.labels,
    }
