"""Fold alerts that fired before incidents existed (migration 0017) into incidents.

`vigil incidents backfill` takes the alerts that fired and have no incident, oldest first,
and groups them with the live path's own rules (group_of, group_key, joins, the configured
group_by and window). An alert is folded with its whole life at once: it opens its incident,
or keeps it open, only if it is still open now, and a resolved one moves the incident's
resolution to its own. For `joins` this is the same as replaying each firing and resolution in
time order: an incident that is open at a firing, or resolved at r, is one whose members'
latest resolution is later than that firing, or is r. So each batch commits incidents in the
state the live path would have left them, and a run stopped half way resumes where it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.db import Database
from app.incidents import service
from app.incidents.models import Incident
from config.schema import IncidentSettings

BATCH = 500


@dataclass
class Backfilled:
    """What a backfill did: alerts folded, incidents it opened, and every incident an alert joined."""

    alerts: int = 0
    opened: int = 0  # incidents it created
    touched: set[int] = field(default_factory=set)  # every incident an alert joined, new or not


def backfill(
    database: Database, *, settings: IncidentSettings, since: datetime | None = None, batch: int = BATCH
) -> Backfilled:
    """Fold every alert that fired (since `since`) and has no incident, a batch per transaction,
    so the scheduler and web workers wait for one batch at most. A second run finds nothing."""
    done = Backfilled()
    after: tuple[datetime, int] | None = None
    while True:
        with database.write() as session:
            alerts = _unfolded(session, since=since, after=after, limit=batch)
            for alert in alerts:
                fold(session, alert, settings, done)
            if alerts:
                last = alerts[-1]
                after = (last.fired_at, last.id)  # type: ignore[assignment]  # the query excludes None
        done.alerts += len(alerts)
        if len(alerts) < batch:
            return done


def _unfolded(
    session: Session, *, since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> list[Alert]:
    """The next alerts to fold in firing order (ix_alerts_fired_at_id). Locked on PostgreSQL so
    a resolution arriving meanwhile waits for the batch and then finds the alert's incident."""
    stmt = select(Alert).where(Alert.incident_id.is_(None), Alert.fired_at.is_not(None))
    if since is not None:
        stmt = stmt.where(Alert.fired_at >= since)
    if after is not None:  # keyset: folded alerts leave the filter, but not the index the scan walks
        stmt = stmt.where(or_(Alert.fired_at > after[0], and_(Alert.fired_at == after[0], Alert.id > after[1])))
    return list(session.scalars(stmt.order_by(Alert.fired_at, Alert.id).limit(limit).with_for_update()))


def fold(session: Session, alert: Alert, settings: IncidentSettings, done: Backfilled) -> None:
    """Put one fired alert into its group's incident, or a new one, as the live path would have."""
    fired_at = alert.fired_at
    assert fired_at is not None  # _unfolded selects fired alerts only
    values = service.group_of(alert, settings.group_by)
    key = service.group_key(values)
    # The group's newest incident that had started by then: incidents the live path made since
    # 0017 are later than any alert stored before it, and must not take old alerts in.
    incident = session.scalar(
        select(Incident)
        .where(Incident.group_key == key, Incident.started_at <= fired_at)
        .order_by(Incident.id.desc())
        .limit(1)
    )
    if incident is None or not service.joins(incident, alert, settings.window):
        incident = service.opened(session, alert, values, key, fired_at)
        done.opened += 1
    _add(incident, alert, fired_at)
    done.touched.add(incident.id)


def _add(incident: Incident, alert: Alert, fired_at: datetime) -> None:
    incident.alert_count += 1
    closed_at = (alert.resolved_at or alert.last_seen_at) if alert.state == "resolved" else None
    if closed_at is None:  # still open: its resolution will come through the live path
        incident.open_count += 1
        incident.state, incident.resolved_at = "open", None
    elif incident.open_count == 0:
        incident.state = "resolved"
        incident.resolved_at = max(incident.resolved_at or closed_at, closed_at)
    incident.updated_at = max(incident.updated_at, closed_at or fired_at)
    service.widen(incident, alert)
    alert.incident_id = incident.id
