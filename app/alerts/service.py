"""The alert lifecycle in the database: apply findings, acknowledge, query.

The state machine itself is detectors.lifecycle (shared with the backtest); this module
only stores its decisions, one event row per transition.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal,
    select,
    table,
)
from sqlalchemy import exists as exists_
from sqlalchemy import text as sql_text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.alerts.models import OPEN_STATES, Alert, AlertEvent, AlertLabel
from app.db import get_or_404
from app.errors import ConflictError
from app.events import Event, publish
from app.incidents import service as incidents
from config import matchers as label_matchers
from config.schema import IncidentSettings
from detectors import lifecycle
from detectors.findings import Finding, finite_or_none


@dataclass(frozen=True)
class Transition:
    """An alert that changed state in a detector run, and the event that changed it."""

    alert_id: int
    fingerprint: str
    event: str  # pending | firing | resolved


def apply(
    session: Session,
    *,
    detector: str,
    severity: str,
    static_labels: dict[str, str],
    findings: Iterable[Finding],
    now: datetime,
    grouping: IncidentSettings = incidents.DEFAULT_SETTINGS,
) -> list[Transition]:
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
            alert = _open(
                session,
                detector=detector,
                severity=severity,
                labels=labels,
                fingerprint=fingerprint,
                finding=finding,
                now=now,
            )
        _refresh(alert, finding, now)
        if event:
            _transition(session, alert, new_state or "resolved", event, now, finding, grouping)
            transitions.append(Transition(alert.id, fingerprint, event))
    return transitions


def apply_external(
    session: Session, item: dict[str, Any], *, now: datetime, grouping: IncidentSettings = incidents.DEFAULT_SETTINGS
) -> list[Transition]:
    """Apply one alert received from Alertmanager, Grafana or the generic webhook.

    External alerts arrive already firing (their own `for` has passed); a resolved one
    closes the open alert. A stale redelivery of an incident already resolved is ignored.
    """
    fingerprint, starts_at = item["fingerprint"], datetime.fromisoformat(item["starts_at"])
    alert = open_alert(session, fingerprint)
    if (
        alert is None
        and item["status"] == "firing"
        and session.scalar(
            select(Alert.id).where(
                Alert.fingerprint == fingerprint, Alert.state == "resolved", Alert.started_at == starts_at
            )
        )
    ):
        return []
    new_state, event = lifecycle.step(alert.state if alert else None, "firing" if item["status"] == "firing" else "ok")
    if alert is None and new_state is None:
        return []
    if alert is None:
        alert = _add(
            session,
            Alert(
                fingerprint=fingerprint,
                detector=item["name"],
                source=item["source"],
                labels=dict(item["labels"]),
                severity=item["severity"],
                state="pending",
                kind="external",
                started_at=starts_at,
                last_seen_at=now,
            ),
        )
    alert.last_seen_at, alert.message = now, item.get("summary") or alert.message
    alert.value = item.get("value") if item.get("value") is not None else alert.value
    alert.evidence = {k: item.get(k) for k in ("annotations", "generator_url", "upstream_fingerprint", "ends_at")}
    alert.evidence.update({k: item[k] for k in ("dashboard_url", "panel_url") if item.get(k)})  # Grafana's
    if event is None:
        return []
    _transition(session, alert, new_state or "resolved", event, now, None, grouping)
    return [Transition(alert.id, fingerprint, event)]


def resolve_orphans(
    session: Session, *, configured: Iterable[str], disabled: Iterable[str], now: datetime
) -> list[Transition]:
    """Close the open alerts of detectors no longer in the configuration (or disabled): no run
    would ever resolve them. Only detector-raised alerts: received ones (source alertmanager,
    grafana, generic) are closed by their sender."""
    configured, disabled = set(configured), set(disabled)
    transitions = []
    for alert in session.scalars(
        select(Alert).where(
            Alert.source == "detector", Alert.state.in_(OPEN_STATES), Alert.detector.not_in(configured - disabled)
        )
    ):
        _state, event = lifecycle.step(alert.state, "ok")
        reason = "detector disabled" if alert.detector in disabled else "detector removed"
        alert.state, alert.resolved_at = "resolved", now
        publish(session, [Event(f"alert.{event or 'resolved'}", now, alert=alert, details={"reason": reason})])
        incidents.track(session, alert, event=event or "resolved", now=now)
        transitions.append(Transition(alert.id, alert.fingerprint, event or "resolved"))
    return transitions


def open_alert(session: Session, fingerprint: str) -> Alert | None:
    """The open (pending or firing) alert with this fingerprint, if any."""
    return session.scalar(select(Alert).where(Alert.fingerprint == fingerprint, Alert.state.in_(OPEN_STATES)))


def _open(
    session: Session,
    *,
    detector: str,
    severity: str,
    labels: dict[str, str],
    fingerprint: str,
    finding: Finding,
    now: datetime,
) -> Alert:
    return _add(
        session,
        Alert(
            fingerprint=fingerprint,
            detector=detector,
            source="detector",
            labels=labels,
            severity=severity,
            state="pending",
            kind=finding.kind,
            message=finding.message,
            started_at=finding.active_since or now,
            last_seen_at=now,
        ),
    )


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


def _transition(
    session: Session,
    alert: Alert,
    state: str,
    event: str,
    now: datetime,
    finding: Finding | None,
    grouping: IncidentSettings,
) -> None:
    alert.state = state
    if state == "firing" and alert.fired_at is None:
        alert.fired_at = now
    if state == "resolved":
        alert.resolved_at = now
    details: dict[str, Any] = {"message": finding.message, "value": finite_or_none(finding.value)} if finding else {}
    publish(session, [Event(f"alert.{event}", now, alert=alert, details=details)])  # its timeline row
    incidents.track(session, alert, event=event, now=now, settings=grouping)


def acknowledge(session: Session, *, alert_id: int, by: str, now: datetime, comment: str = "") -> Alert:
    """Acknowledge an open alert; acking it again changes nothing. Raises ConflictError when it is resolved,
    NotFoundError when there is no such alert."""
    alert = get(session, alert_id)
    if alert.state == "resolved":
        raise ConflictError(f"alert {alert_id} is resolved; there is nothing to acknowledge")
    if alert.acked_at is None:
        alert.acked_at, alert.acked_by = now, by
        publish(
            session,
            [Event("alert.ack", now, actor=by, alert=alert, target=f"alert:{alert_id}", details={"comment": comment})],
        )
    return alert


def unacknowledge(session: Session, *, alert_id: int, by: str, now: datetime) -> Alert:
    """Take an acknowledgement back (someone acked the wrong alert, or handed it back)."""
    alert = get(session, alert_id)
    if alert.acked_at is not None:
        alert.acked_at, alert.acked_by = None, None
        publish(session, [Event("alert.unack", now, actor=by, alert=alert, target=f"alert:{alert_id}")])
    return alert


def get(session: Session, alert_id: int) -> Alert:
    """The alert with this id. Raises NotFoundError."""
    return get_or_404(session, Alert, alert_id, "alert")


def events(session: Session, alert_id: int) -> Sequence[AlertEvent]:
    """The alert's timeline, oldest first."""
    return session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)).all()


MATCHER_PATTERN = label_matchers.FILTER_PATTERN
_TERM = re.compile(r'"([^"]*)"|(\S+)')
MAX_TERMS = 8


def matcher(text: str) -> tuple[str, str, str]:
    """`team=db`, `host!=web-1`, `host=~web-.*`, `env!~dev|test` as (label, op, value); the
    one matcher syntax of the API's `label=` and the dashboard. Regexes are RE2, anchored,
    and a label an alert lacks is "" (config.matchers).

    Raises:
        ValueError: not of that form, or a regex RE2 refuses (the message says why).
    """
    found = label_matchers.parse(text)
    return found.name, found.op, found.value


def split_matchers(text: str) -> list[str]:
    """The old dashboard `labels=` form: matchers separated by spaces or by commas before the
    next `name=` (a comma inside a regex such as `a{1,3}` stays)."""
    return [p for p in _SEPARATOR.split(text.strip()) if p]


_SEPARATOR = re.compile(r"\s+|,(?=\s*[A-Za-z_][A-Za-z0-9_.-]*(?:=~|!~|!=|=))")


def terms(text: str) -> tuple[str, ...]:
    """Free text as lower-cased search terms: words, or "quoted phrases"; each must appear.

    Raises:
        ValueError: more than MAX_TERMS terms.
    """
    found = tuple(t for a, b in _TERM.findall(text) if (t := (a or b).strip().lower()))
    if len(found) > MAX_TERMS:
        raise ValueError(f"at most {MAX_TERMS} search terms, got {len(found)}")
    return found


@dataclass(frozen=True)
class AlertQuery:
    """Filters of the alert list, all ANDed; empty ones match everything. since/until bound started_at
    as [since, until); cursor is the id the previous page ended before."""

    states: tuple[str, ...] = ()
    detector: str | None = None
    severity: str | None = None
    matchers: tuple[tuple[str, str, str], ...] = ()  # (label, op: = != =~ !~, value)
    text: tuple[str, ...] = ()  # lower-cased terms, each somewhere in the alert's search text
    since: datetime | None = None
    until: datetime | None = None
    acked: bool | None = None
    cursor: int | None = None
    limit: int = 50


NEWEST_SCAN = 5000  # alerts a text search reads directly before it asks the trigram index


def search(session: Session, query: AlertQuery) -> list[Alert]:
    """Newest first, keyset-paginated on id: no OFFSET and no COUNT(*)."""
    labels = _label_filters(session.connection(), query)
    values = _values(query, labels)
    for shape in _Shape.of(query, labels, session.get_bind().dialect.name).phases():
        rows = list(session.scalars(_search_stmt(shape, as_json=False), values))
        if len(rows) > query.limit or not shape.recent:
            return rows
    raise AssertionError("unreachable: the last phase always answers")  # phases() ends with a complete one


def search_json(connection: Connection, query: AlertQuery) -> tuple[list[str], int | None]:
    """A page of search() as one JSON object text per alert, read from `alerts.listed`.

    The list endpoint's answer is then a join of these texts: decoding 17 columns per row,
    formatting times and encoding JSON again cost most of its CPU, and building and
    cache-keying the statement on every call most of the rest. So the SQL is compiled once
    per filter shape and runs as driver SQL. Returns (items, next_cursor) like web.page().
    """
    labels = _label_filters(connection, query)
    for shape in _Shape.of(query, labels, connection.dialect.name).phases():
        compiled, processors = _compiled_json_page(connection.dialect, shape)
        params: dict[str, Any] = dict(compiled.construct_params(_values(query, labels)))
        for name, process in processors.items():
            params[name] = process(params[name])
        bound = tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
        rows: Sequence[Any] = connection.exec_driver_sql(compiled.string, bound).all()
        if len(rows) > query.limit or not shape.recent:
            break
    if len(rows) > query.limit:
        rows = rows[: query.limit]
        return [r[1] for r in rows], rows[-1][0]
    return [r[1] for r in rows], None


@dataclass(frozen=True)
class _LabelFilter:
    """One label matcher as SQL over alert_labels: the alert must have (`exists`) or must not
    have a row of label `name` whose value passes `op` with `value`. config.matchers' rule (a
    missing label is "") decides which: a matcher that accepts "" also takes alerts without
    the label, so it becomes "no row with a value it refuses"; any other, "a row with a value
    it accepts". `op` is = != =~ !~ or `in`: the value is one of the JSON array `value`."""

    name: str
    exists: bool
    op: str
    value: str


_OPPOSITE = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}
# A regex is resolved against the label's distinct values, then found through the
# (name, value, alert_id) index; run per alert instead, one matching nothing read every alert
# (24 s at 1M alerts). Past these sizes the regex runs per alert as before.
MAX_LABEL_VALUES = 20_000  # distinct values of one label read to resolve a regex
MAX_RESOLVED_VALUES = 5_000  # values one `in` list may hold


def _label_filters(connection: Connection, q: AlertQuery) -> tuple[_LabelFilter, ...]:
    out = []
    for name, op, value in q.matchers:
        exists = not label_matchers.matches_empty(label_matchers.Matcher(name, op, value))
        row_op = op if exists else _OPPOSITE[op]
        found = _LabelFilter(name, exists, row_op, value)
        if row_op in ("=~", "!~"):
            found = _resolved(connection, found)
        out.append(found)
    return tuple(out)


def _resolved(connection: Connection, found: _LabelFilter) -> _LabelFilter:
    """The regex filter as an `in` list of the label's stored values it accepts, when small."""
    values = _distinct_values(connection, found.name, MAX_LABEL_VALUES + 1)
    if len(values) > MAX_LABEL_VALUES:
        return found
    row = label_matchers.Matcher(found.name, found.op, found.value)
    accepted = [v for v in values if row.accepts(v)]
    if len(accepted) > MAX_RESOLVED_VALUES:
        return found
    # Read in a statement of its own: an alert stored between it and the page query with a
    # value not seen here is missed by that page (as if it had arrived just after).
    return dataclasses.replace(found, op="in", value=json.dumps(accepted))


# The distinct values of one label, one index seek each (a loose index scan): reading
# them with DISTINCT would visit every row of the label, i.e. every alert that has it.
_DISTINCT_VALUES = sql_text(
    "WITH RECURSIVE v(value) AS ("
    " SELECT (SELECT min(value) FROM alert_labels WHERE name = :name)"
    " UNION ALL SELECT (SELECT min(value) FROM alert_labels WHERE name = :name AND value > v.value)"
    " FROM v WHERE v.value IS NOT NULL)"
    " SELECT value FROM v WHERE value IS NOT NULL LIMIT :limit"
)


def _distinct_values(connection: Connection, name: str, limit: int) -> list[str]:
    return list(connection.execute(_DISTINCT_VALUES, {"name": name, "limit": limit}).scalars())


class _one_of(FunctionElement[bool]):
    """column IN the strings of a JSON array parameter: one statement serves `in` lists of any
    length (SQLite json_each, PostgreSQL jsonb_array_elements_text)."""

    name = "one_of"
    # No Boolean type: SQLite would get "... = 1" appended, which no index can serve.
    inherit_cache = True


class _seek_one_of(_one_of):
    """The same, for the label row that drives a page. PostgreSQL gets `= ANY(ARRAY(...))`,
    which it plans as a seek of the label index; the IN above it planned as a scan of every
    row of the label (300 ms against 43 ms for `instance=~db-.*` at 1M alerts, bench_dashboard;
    under NOT EXISTS, `instance!~web-.*`, 1.2 s against 0.2 s). Inside EXISTS the IN form
    stays: there the ANY form made it scan the label's rows too (0.5 s against 0.05 s)."""

    name = "seek_one_of"
    inherit_cache = True


@compiles(_one_of)
def _one_of_sqlite(element: _one_of, compiler: Any, **kw: Any) -> str:
    column_, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column_} IN (SELECT value FROM json_each({value}))"


@compiles(_one_of, "postgresql")
def _one_of_postgresql(element: _one_of, compiler: Any, **kw: Any) -> str:
    column_, value = (compiler.process(c, **kw) for c in element.clauses)
    strings = f"SELECT jsonb_array_elements_text(CAST({value} AS jsonb))"
    return f"{column_} = ANY(ARRAY({strings}))" if isinstance(element, _seek_one_of) else f"{column_} IN ({strings})"


@dataclass(frozen=True)
class _Shape:
    """Which filters a query uses (not their values): one statement serves every query alike."""

    states: int
    detector: bool
    severity: bool
    label_ops: tuple[tuple[bool, str], ...]  # (exists, op) of each _LabelFilter
    since: bool
    until: bool
    acked: bool | None
    cursor: bool
    terms: int = 0
    fts: bool = False  # the terms are looked up in SQLite's alerts_fts (migration 0019)
    recent: bool = False  # only the NEWEST_SCAN alerts below the cursor, LIKE on each

    def phases(self) -> tuple["_Shape", ...]:
        """The statements to try in turn. A common word (or label regex) fills a page from the
        newest few thousand alerts faster than the index lists its every match, and a page
        filled there is exactly the page the index would give; otherwise the index answers."""
        if not self.fts and not self._in_list_drives():
            return (self,)
        return (dataclasses.replace(self, fts=False, recent=True), self)

    def _in_list_drives(self) -> bool:
        # An `in` list picks the newest matches only after sorting them all; an equality's
        # index range is already in id order, so with one the recent phase is not needed.
        return (True, "in") in self.label_ops and (True, "=") not in self.label_ops

    @classmethod
    def of(cls, q: AlertQuery, labels: Sequence[_LabelFilter] = (), dialect: str = "") -> "_Shape":
        # A trigram index finds terms of three characters or more; shorter ones scan.
        fts = dialect == "sqlite" and bool(q.text) and all(len(t) >= 3 for t in q.text)
        return cls(
            len(q.states),
            bool(q.detector),
            bool(q.severity),
            tuple((f.exists, f.op) for f in labels),
            q.since is not None,
            q.until is not None,
            q.acked,
            bool(q.cursor),
            len(q.text),
            fts,
        )


def _values(q: AlertQuery, labels: Sequence[_LabelFilter] = ()) -> dict[str, Any]:
    values: dict[str, Any] = {
        "limit": q.limit + 1,
        "detector": q.detector,
        "severity": q.severity,
        "scan": NEWEST_SCAN,
        "since": q.since,
        "until": q.until,
        "cursor": q.cursor,
    }
    values.update({f"state_{i}": state for i, state in enumerate(q.states)})
    for i, f in enumerate(labels):
        values[f"label_{i}"], values[f"value_{i}"] = f.name, f"^(?:{f.value})$" if f.op in ("=~", "!~") else f.value
    values["fts_query"] = " ".join('"' + t.replace('"', '""') + '"' for t in q.text)  # phrases, all of them
    for i, term in enumerate(q.text):
        values[f"term_{i}"] = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return values


@functools.lru_cache(maxsize=256)  # one per filter shape in use; bounded, as shapes come from requests
def _compiled_json_page(dialect: Dialect, shape: _Shape) -> tuple[SQLCompiler, dict[str, Any]]:
    """The compiled page statement and the bind processors its parameters need (UTC times)."""
    compiled = _search_stmt(shape, as_json=True).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    processors = {
        name: proc for name, bind in compiled.binds.items() if (proc := bind.type.bind_processor(dialect)) is not None
    }
    return compiled, processors


@functools.lru_cache(maxsize=256)  # one per filter shape in use; bounded, as shapes come from requests
def _search_stmt(shape: _Shape, *, as_json: bool) -> Select[Any]:
    """The page's rows (whole alerts, or (id, JSON text)): their ids are picked from indexes
    alone (a time window sorts ids, not whole rows), then only those rows are read."""
    # `listed` lacks the id, which is only known after the insert: put it in front.
    item = literal('{"id":').concat(cast(Alert.id, String)).concat(",").concat(func.substr(Alert.listed, 2))
    stmt: Select[Any] = select(Alert.id, item) if as_json else select(Alert)  # type: ignore[assignment]
    return stmt.where(Alert.id.in_(_page_ids(shape))).order_by(Alert.id.desc())


def _page_ids(shape: _Shape) -> Select[Any]:
    # With a label=value matcher, its (name, value, alert_id) index drives the scan newest
    # first: as fast for a value on every fifth alert as for one on none (ordering by
    # alerts.id instead makes SQLite sort every match). Without one, a resolved regex's
    # `in` list drives, outside the recent phase (which reads the newest alerts instead).
    drivers = [i for i, (exists, op) in enumerate(shape.label_ops) if exists and op == "="]
    if not drivers and not shape.recent:
        drivers = [i for i, (exists, op) in enumerate(shape.label_ops) if exists and op == "in"][:1]
    newest: Any = Alert.id
    order: Any = None
    stmt = select(Alert.id)
    for i, (exists, op) in enumerate(shape.label_ops):
        label = aliased(AlertLabel)
        row = and_(
            label.alert_id == Alert.id,
            label.name == bindparam(f"label_{i}"),
            _passes(label, op, i, seek=i in drivers or not exists),
        )
        if i in drivers:  # a join is an EXISTS here: an alert has one row per label name
            stmt = stmt.join(label, row)
            newest = label.alert_id if newest is Alert.id else newest
            if op == "in":  # sorted, not walked: SQLite would read every alert's row along its key
                order = label.alert_id + 0
        else:
            stmt = stmt.where(exists_().where(row) if exists else ~exists_().where(row))
    if order is None and newest is Alert.id and shape.until:
        # A window in the past: its alerts are found through the started_at index and sorted.
        # Walking alerts.id down from the newest reads every alert after the window first
        # (PostgreSQL chose that walk: 830 ms against 62 ms for a week 200 days back, 1M alerts).
        order = Alert.id + 0
    stmt = stmt.order_by((newest if order is None else order).desc()).limit(bindparam("limit", type_=Integer))
    if shape.states:
        stmt = stmt.where(Alert.state.in_([bindparam(f"state_{i}") for i in range(shape.states)]))
    if shape.detector:
        stmt = stmt.where(Alert.detector == bindparam("detector"))
    if shape.severity:
        stmt = stmt.where(Alert.severity == bindparam("severity"))
    if shape.since:
        stmt = stmt.where(Alert.started_at >= bindparam("since"))
    if shape.until:
        stmt = stmt.where(Alert.started_at < bindparam("until"))
    if shape.acked is not None:
        stmt = stmt.where(Alert.acked_at.is_not(None) if shape.acked else Alert.acked_at.is_(None))
    if shape.cursor:
        stmt = stmt.where(newest < bindparam("cursor"))
    if shape.recent:
        top = bindparam("cursor") if shape.cursor else select(func.max(Alert.id) + 1).scalar_subquery()
        stmt = stmt.where(Alert.id >= top - bindparam("scan", type_=Integer))
    if shape.fts:
        stmt = stmt.where(Alert.id.in_(select(_FTS.c.rowid).where(sql_text("alerts_fts MATCH :fts_query"))))
    else:
        for i in range(shape.terms):
            stmt = stmt.where(Alert.search_text.like(bindparam(f"term_{i}"), escape="\\"))
    return stmt


def _passes(label: Any, op: str, i: int, *, seek: bool = False) -> Any:
    """The SQL for "this label row's value passes op with parameter value_i"."""
    value: Any = bindparam(f"value_{i}")
    if op == "=":
        return label.value == value
    if op == "!=":
        return label.value != value
    if op == "in":
        return _seek_one_of(label.value, value) if seek else _one_of(label.value, value)
    # RE2 on SQLite (app.db registers it), PostgreSQL's own ~ there; the pattern is anchored.
    return label.value.regexp_match(value) if op == "=~" else ~label.value.regexp_match(value)


_FTS = table("alerts_fts", column("rowid", Integer))
