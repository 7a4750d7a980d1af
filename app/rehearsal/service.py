"""Rehearse a binding over stored history: load the period's facts, replay, summarise.

Alerts are read with a Core select ordered by firing time and streamed (no ORM objects or
rows: 100,000 of them took seconds); detector and severity filters go to SQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, cast

from sqlalchemy import Select, Text, null, select, type_coerce
from sqlalchemy import cast as sql_cast
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.audit.models import AuditRecord
from app.automation import registry
from app.automation.models import Binding, Execution
from app.errors import BadRequestError, ConflictError, NotFoundError
from app.rehearsal import replay
from app.silences.models import Silence
from app.silences.service import Matcher
from config.schema import BindingConfig

DEFAULT_PERIOD = timedelta(days=30)
_BATCH = 5000


def transient_binding(spec: BindingConfig) -> Binding:
    """The spec as a Binding row that is never added to a session (the matcher reads it)."""
    return Binding(
        name=spec.name,
        remediation=spec.remediation,
        detector=spec.detector,
        matchers=dict(spec.matchers),
        severities=list(spec.severities),
        params=spec.params,
        mode=spec.mode,
        cooldown_s=spec.cooldown,
        rate_limit=spec.rate_limit,
        rate_window_s=spec.rate_window,
        breaker_threshold=spec.breaker_threshold,
        approval_timeout_s=spec.approval_timeout,
        enabled=spec.enabled,
        queue=spec.queue,
    )


def period(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """[since, until) with the defaults filled in: until now, since DEFAULT_PERIOD before until.
    Raises BadRequestError when since is not before until."""
    until = until or now
    since = since or until - DEFAULT_PERIOD
    if since >= until:
        raise BadRequestError("since must be before until", {"since": "must be before until"})
    return since, until


def enabled_copy(binding: Binding) -> Binding:
    """A stored binding as a transient row, enabled: what it would do if it were on."""
    fields = {attr.key: getattr(binding, attr.key) for attr in sa_inspect(Binding).column_attrs}
    return Binding(**{**fields, "id": None, "enabled": True})


def rehearse(session: Session, spec: BindingConfig, *, since: datetime, until: datetime) -> dict[str, Any]:
    """The rehearsal's answer (see replay.summarise) for one binding spec over [since, until)."""
    decisions = replay_binding(session, transient_binding(spec), since=since, until=until)
    return {"binding": spec.name, "since": since.isoformat(), "until": until.isoformat(), **replay.summarise(decisions)}


def decisions(session: Session, spec: BindingConfig, *, since: datetime, until: datetime) -> list[replay.Rehearsed]:
    """Every decision, in order (tests compare them with the live path's)."""
    return list(replay_binding(session, transient_binding(spec), since=since, until=until))


def replay_binding(
    session: Session, binding: Binding, *, since: datetime, until: datetime
) -> Iterable[replay.Rehearsed]:
    """Decisions one by one, as they are made (firings are streamed from the database)."""
    return replay.replay(binding, firings(session, binding, since, until), history(session, binding, since, until))


def firings(session: Session, binding: Binding, since: datetime, until: datetime) -> Iterator[replay.Firing]:
    """The alerts the binding could have acted on, fired in [since, until), in firing order: its
    detector and severities, error and nodata alerts left out."""
    templated = "{{" in json.dumps(binding.params)
    approve = binding.mode == "approve"  # only a wait for approval ends at the alert's resolution
    decoded: dict[str, dict[str, str]] = {}  # the same label sets recur: decode each text once
    make, when = replay.Firing._make, _time_reader(session)
    # fired_at is never NULL here (the query compares it): SQLite's text goes straight to C.
    fired_at = datetime.fromisoformat if _is_sqlite(session) else when
    stmt = _firings_query(session, binding, since, until, templated=templated, approve=approve)
    # Core rows, not the ORM's (a third less per row). SQLite's cursor steps through the result
    # as it is read; other databases stream it in batches through a server-side cursor.
    rows = session.connection().execute(stmt if _is_sqlite(session) else stmt.execution_options(yield_per=_BATCH))
    for id_, fired, fp, detector, severity, kind, text, resolved, *more in cast(Iterable[tuple[Any, ...]], rows):
        labels = decoded.get(text)
        if labels is None:
            labels = decoded[text] = json.loads(text)
        context = _context(id_, fp, detector, severity, labels, more) if templated else {}
        yield make(
            (
                id_,
                fired_at(fired),
                fp,
                detector,
                severity,
                kind,
                labels,
                when(resolved) if approve else None,
                context,
                text,
            )
        )


def _firings_query(
    session: Session, binding: Binding, since: datetime, until: datetime, *, templated: bool, approve: bool
) -> Select[Any]:
    """Only the columns the replay reads, firing order, the binding's detector and severities in SQL."""
    a = Alert.__table__.c
    # Raw JSON text (PostgreSQL's driver would decode json), decoded once per distinct label set.
    labels_text = sql_cast(a.labels, Text)
    fired_at: Any = a.fired_at
    resolved_at: Any = a.resolved_at if approve else null()
    if _is_sqlite(session):  # stored as naive UTC text: C's fromisoformat reads it with its offset added
        fired_at = type_coerce(a.fired_at, Text) + "+00:00"
        resolved_at = type_coerce(a.resolved_at, Text) + "+00:00" if approve else null()
    extra = (a.value, a.threshold, a.message) if templated else ()  # only templates read them
    stmt = (
        select(a.id, fired_at, a.fingerprint, a.detector, a.severity, a.kind, labels_text, resolved_at, *extra)
        .where(a.fired_at >= since, a.fired_at < until, a.kind.not_in(("error", "nodata")))
        .order_by(a.fired_at, a.id)
    )
    if binding.detector:
        stmt = stmt.where(a.detector == binding.detector)
    if binding.severities:
        stmt = stmt.where(a.severity.in_(binding.severities))
    return stmt


def _context(
    id_: int, fp: str, detector: str, severity: str, labels: dict[str, str], more: list[Any]
) -> dict[str, Any]:
    """What templates see, as app.automation.service.alert_context (the alert is firing)."""
    value, threshold, message = more
    return {
        "id": id_,
        "fingerprint": fp,
        "detector": detector,
        "severity": severity,
        "state": "firing",
        "value": value,
        "threshold": threshold,
        "labels": dict(labels),
        "message": message,
    }


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _time_reader(session: Session) -> Callable[[Any], datetime | None]:
    if not _is_sqlite(session):
        return lambda value: None if value is None else value.astimezone(timezone.utc)  # per-day counts in UTC
    return lambda value: None if value is None else datetime.fromisoformat(value)


def history(session: Session, binding: Binding, since: datetime, until: datetime) -> replay.History:
    """What else the replay needs to know of the period: whether the remediation can run, pauses,
    silences, breaker closes and how its past runs on each alert ended."""
    out = replay.History()
    try:
        version = registry.runnable(session, binding.remediation)
        out.max_concurrency, out.params_schema = version.max_concurrency, version.params_schema
    except (NotFoundError, ConflictError) as exc:
        out.runnable_error = exc.message
    _pauses(session, out, since, until)
    s = Silence.__table__.c
    for row in session.execute(
        select(s.id, s.starts_at, s.ends_at, s.matchers).where(s.starts_at < until, s.ends_at > since).order_by(s.id)
    ):
        out.silences.append(replay.Silence(row.id, row.starts_at, row.ends_at, _matcher(row.matchers)))
    r = AuditRecord.__table__.c
    out.breaker_closes = list(
        session.scalars(
            select(r.at)
            .where(
                r.action == "binding.breaker_close", r.target == f"binding:{binding.name}", r.at >= since, r.at < until
            )
            .order_by(r.at, r.id)
        )
    )
    out.outcomes = _outcomes(session, binding.remediation, since, until)
    return out


def _matcher(raw: list[dict[str, str]]) -> Callable[[Mapping[str, str]], bool]:
    matchers = [Matcher(**m) for m in raw]
    return lambda labels: all(m.matches(labels) for m in matchers)


def _pauses(session: Session, out: replay.History, since: datetime, until: datetime) -> None:
    r = AuditRecord.__table__.c
    actions = ("automation.pause", "automation.resume")
    before = session.scalar(
        select(r.action).where(r.action.in_(actions), r.at < since).order_by(r.at.desc(), r.id.desc()).limit(1)
    )
    out.paused_at_start = before == "automation.pause"
    out.pauses = [
        (row.at, row.action == "automation.pause")
        for row in session.execute(
            select(r.at, r.action).where(r.action.in_(actions), r.at >= since, r.at < until).order_by(r.at, r.id)
        )
    ]


def _outcomes(session: Session, remediation: str, since: datetime, until: datetime) -> dict[int, replay.Outcome]:
    """The last final run of this remediation per alert in the period (its state, its duration)."""
    e = Execution.__table__.c
    rows = session.execute(
        select(e.alert_id, e.state, e.queued_at, e.started_at, e.finished_at, e.duration_s)
        .where(
            e.remediation == remediation,
            e.queued_at >= since,
            e.queued_at < until,
            e.alert_id.is_not(None),
            e.state.in_((*replay.RAN, "rejected", "expired", "cancelled")),
        )
        .order_by(e.id)
    )
    out = {}
    for row in rows:
        # From queued to finished (waiting included), or the script's own time when the clocks disagree.
        took = (row.finished_at - row.queued_at).total_seconds() if row.finished_at else -1.0
        out[row.alert_id] = replay.Outcome(row.state, took if took >= 0 else (row.duration_s or 0.0))
    return out
