"""The alert lifecycle in the database: apply findings, acknowledge, query.

The state machine itself is detectors.lifecycle (shared with the backtest); this module
only stores its decisions, one event row per transition.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, String, Text, and_, cast, exists, func, literal, select, type_coerce
from sqlalchemy.orm import Session, aliased

from app.alerts.models import OPEN_STATES, Alert, AlertEvent, AlertLabel
from app.audit import service as audit
from app.db import UTCDateTime
from app.errors import ConflictError, NotFoundError
from detectors import lifecycle
from detectors.findings import Finding, finite_or_none


@dataclass(frozen=True)
class Transition:
    alert_id: int
    fingerprint: str
    event: str  # pending | firing | resolved


def apply(session: Session, *, detector: str, severity: str, static_labels: dict[str, str],
          findings: Iterable[Finding], now: datetime) -> list[Transition]:
    """Store what one detector run found; returns the transitions it caused."""
    transitions = []
    for finding in findings:
        labels = {**static_labels, **finding.labels}
        # Static labels are the same on every series of a detector, so the series labels
        # identify it; this matches the fingerprints `vigil backtest` prints.
        fingerprint = lifecycle.fingerprint(detector, finding.labels)
        alert = open_alert(session, fingerprint)
        new_state, event = lifecycle.step(alert.state if alert else None, finding.state)
        if alert is None and new_state is None:
            continue
        if alert is None:
            alert = _open(session, detector=detector, severity=severity, labels=labels,
                          fingerprint=fingerprint, finding=finding, now=now)
        _refresh(alert, finding, now)
        if event:
            _transition(session, alert, new_state or "resolved", event, now, finding)
            transitions.append(Transition(alert.id, fingerprint, event))
    return transitions


def apply_external(session: Session, item: dict[str, Any], *, now: datetime) -> list[Transition]:
    """Apply one alert received from Alertmanager, Grafana or the generic webhook.

    External alerts arrive already firing (their own `for` has passed); a resolved one
    closes the open alert. A stale redelivery of an incident already resolved is ignored.
    """
    fingerprint, starts_at = item["fingerprint"], datetime.fromisoformat(item["starts_at"])
    alert = open_alert(session, fingerprint)
    if alert is None and item["status"] == "firing" and session.scalar(select(Alert.id).where(
            Alert.fingerprint == fingerprint, Alert.state == "resolved", Alert.started_at == starts_at)):
        return []
    new_state, event = lifecycle.step(alert.state if alert else None,
                                      "firing" if item["status"] == "firing" else "ok")
    if alert is None and new_state is None:
        return []
    if alert is None:
        alert = _add(session, Alert(fingerprint=fingerprint, detector=item["name"], source=item["source"],
                                    labels=dict(item["labels"]), severity=item["severity"], state="pending",
                                    kind="external", started_at=starts_at, last_seen_at=now))
    alert.last_seen_at, alert.message = now, item.get("summary") or alert.message
    alert.value = item.get("value") if item.get("value") is not None else alert.value
    alert.evidence = {k: item.get(k) for k in ("annotations", "generator_url", "upstream_fingerprint", "ends_at")}
    if event is None:
        return []
    _transition(session, alert, new_state or "resolved", event, now, None)
    return [Transition(alert.id, fingerprint, event)]


def open_alert(session: Session, fingerprint: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.fingerprint == fingerprint, Alert.state.in_(OPEN_STATES)))


def _open(session: Session, *, detector: str, severity: str, labels: dict[str, str], fingerprint: str,
          finding: Finding, now: datetime) -> Alert:
    return _add(session, Alert(fingerprint=fingerprint, detector=detector, labels=labels, severity=severity,
                               state="pending", kind=finding.kind, started_at=finding.active_since or now,
                               last_seen_at=now))


def _add(session: Session, alert: Alert) -> Alert:
    """Insert a new alert and its label rows (what label matchers search)."""
    session.add(alert)
    session.flush()
    session.add_all(AlertLabel(alert_id=alert.id, name=k, value=v) for k, v in alert.labels.items())
    return alert


def _refresh(alert: Alert, finding: Finding, now: datetime) -> None:
    alert.last_seen_at = now
    alert.value = finite_or_none(finding.value)
    alert.threshold = finite_or_none(finding.threshold)
    alert.message = finding.message
    data = finding.to_dict()
    alert.evidence = {k: data[k] for k in ("evidence", "change_points", "before", "after", "active_since")}


def _transition(session: Session, alert: Alert, state: str, event: str, now: datetime,
                finding: Finding | None) -> None:
    alert.state = state
    if state == "firing" and alert.fired_at is None:
        alert.fired_at = now
    if state == "resolved":
        alert.resolved_at = now
    details: dict[str, Any] = {"message": finding.message, "value": finite_or_none(finding.value)} if finding else {}
    session.add(AlertEvent(alert_id=alert.id, at=now, kind=event, details=details))


def acknowledge(session: Session, *, alert_id: int, by: str, now: datetime, comment: str = "") -> Alert:
    alert = get(session, alert_id)
    if alert.state == "resolved":
        raise ConflictError(f"alert {alert_id} is resolved; there is nothing to acknowledge")
    if alert.acked_at is None:
        alert.acked_at, alert.acked_by = now, by
        session.add(AlertEvent(alert_id=alert.id, at=now, kind="acked", actor=by, details={"comment": comment}))
        audit.record(session, actor=by, action="alert.ack", target=f"alert:{alert_id}", details={"comment": comment})
    return alert


def get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"alert {alert_id} not found")
    return alert


def events(session: Session, alert_id: int) -> Sequence[AlertEvent]:
    return session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)).all()


@dataclass(frozen=True)
class AlertQuery:
    states: tuple[str, ...] = ()
    detector: str | None = None
    severity: str | None = None
    matchers: tuple[tuple[str, str, str], ...] = ()  # (label, op '=' or '!=', value)
    since: datetime | None = None
    until: datetime | None = None
    acked: bool | None = None
    cursor: int | None = None
    limit: int = 50


def search(session: Session, query: AlertQuery) -> list[Alert]:
    """Newest first, keyset-paginated on id: no OFFSET and no COUNT(*)."""
    return list(session.scalars(_search_stmt(select(Alert), query)))


def search_json(session: Session, query: AlertQuery, columns: Sequence[str]) -> tuple[list[str], int | None]:
    """A page of search() as one JSON object text per alert, built by the database.

    The list endpoint's answer is then a join of these texts: decoding 17 columns per row,
    formatting times and encoding JSON again in Python cost most of its CPU.
    Returns (items, next_cursor) like web.page().
    """
    dialect = session.get_bind().dialect.name
    stmt: Any = select(Alert.id, _json_object(dialect, tuple(columns)))
    rows: list[Any] = list(session.execute(_search_stmt(stmt, query)))
    if len(rows) > query.limit:
        rows = rows[:query.limit]
        return [r[1] for r in rows], rows[-1][0]
    return [r[1] for r in rows], None


@functools.cache  # building the expression costs more than running the query
def _json_object(dialect: str, columns: tuple[str, ...]) -> ColumnElement[str]:
    """One row as a JSON object, times as ISO-8601 UTC with microseconds (as web.iso gives them)."""
    table, args = Alert.__table__.c, []
    for name in columns:
        column = table[name]
        value: Any = column
        if isinstance(column.type, UTCDateTime) and dialect == "sqlite":  # stored 'YYYY-MM-DD HH:MM:SS.ffffff'
            value = func.replace(type_coerce(column, String), " ", "T").concat("+00:00")
        elif isinstance(column.type, UTCDateTime):
            value = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
        elif isinstance(column.type, JSON) and dialect == "sqlite":  # stored as text: embed, not quote
            value = func.json(type_coerce(column, String))
        args += [literal(name), value]
    if dialect == "sqlite":
        return type_coerce(func.json_object(*args), String)
    return cast(func.json_build_object(*args), Text)  # text: psycopg would decode json


def _search_stmt(stmt: Select[Any], query: AlertQuery) -> Select[Any]:
    """`stmt` restricted to the page: its ids are picked from indexes alone (a time window
    sorts ids, not whole rows), then only those rows are read."""
    return stmt.where(Alert.id.in_(_page_ids(query))).order_by(Alert.id.desc())


def _page_ids(query: AlertQuery) -> Select[Any]:
    # With a label=value matcher, its (name, value, alert_id) index drives the scan newest
    # first: as fast for a value on every fifth alert as for one on none (ordering by
    # alerts.id instead makes SQLite sort every match).
    newest: Any = Alert.id
    stmt = select(Alert.id)
    for name, op, value in query.matchers:
        label = aliased(AlertLabel)
        same = and_(label.alert_id == Alert.id, label.name == name, label.value == value)
        if op == "=":
            stmt = stmt.join(label, same)
            newest = label.alert_id if newest is Alert.id else newest
        else:  # also matches alerts without the label, as in Prometheus
            stmt = stmt.where(~exists().where(same))
    stmt = stmt.order_by(newest.desc()).limit(query.limit + 1)
    if query.states:
        stmt = stmt.where(Alert.state.in_(query.states))
    if query.detector:
        stmt = stmt.where(Alert.detector == query.detector)
    if query.severity:
        stmt = stmt.where(Alert.severity == query.severity)
    if query.since:
        stmt = stmt.where(Alert.started_at >= query.since)
    if query.until:
        stmt = stmt.where(Alert.started_at < query.until)
    if query.acked is not None:
        stmt = stmt.where(Alert.acked_at.is_not(None) if query.acked else Alert.acked_at.is_(None))
    if query.cursor:
        stmt = stmt.where(newest < query.cursor)
    return stmt
