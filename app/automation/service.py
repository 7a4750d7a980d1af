"""Automation decisions: what runs when an alert fires, approvals, the pause switch, stats.

Everything here writes in the caller's transaction, so an alert transition, the decision
it caused, the execution row and the audit record commit together or not at all.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation import approvals, effectiveness, executions, registry, suspects
from app.automation import bindings as binding_service
from app.automation.approvals import approve as approve  # re-exported: the API's actions live there
from app.automation.approvals import cancel as cancel
from app.automation.approvals import reject as reject
from app.automation.models import ACTIVE_STATES, AutomationState, Binding, Execution, RemediationVersion
from app.db import get_or_404, page, utcnow
from app.errors import BadRequestError, ConflictError, NotFoundError
from app.events import Event, publish
from app.silences import service as silences
from config.schema import Config
from remediations import ParamsError, decide, render_params, validate_params
from remediations.lifecycle import ACTIVE, RAN, Action, ExecutionState

# States that count as a run for cooldown and rate limits (a skip or rejection is not a run).
# A shadow binding's "would run" counts too: it decides exactly like auto (README "Rehearsal").
RAN_STATES = (*ACTIVE, *RAN, ExecutionState.SHADOW)
# What a policy decision does to the new row (remediations.decide's actions -> lifecycle's).
_ACTION_OF_DECISION = {
    "run": Action.QUEUE,
    "queue": Action.QUEUE,
    "approve": Action.AWAIT_APPROVAL,
    "dry_run": Action.DRY_RUN,
    "skip": Action.SKIP,
    "shadow": Action.SHADOW,
}


def alert_context(alert: Alert) -> dict[str, Any]:
    """What templates and scripts see of an alert: plain data, never code."""
    return {
        "id": alert.id,
        "fingerprint": alert.fingerprint,
        "detector": alert.detector,
        "severity": alert.severity,
        "state": alert.state,
        "value": alert.value,
        "threshold": alert.threshold,
        "labels": dict(alert.labels),
        "message": alert.message,
    }


def on_firing(session: Session, alert: Alert, *, now: datetime, silenced_by: str | None = None) -> list[Execution]:
    """Decide for every binding that matches a newly firing alert; returns the executions created."""
    paused = state(session).paused
    created = []
    for binding in session.scalars(select(Binding).where(Binding.enabled.is_(True)).order_by(Binding.id)):
        if binding_service.matches(binding, alert):
            if binding.when_suspect and suspects.diagnosis_pending(session, alert.id):
                _wait_for_diagnosis(session, binding, alert, now=now)  # on_diagnosed decides it
            elif binding.when_suspect:
                created.append(
                    _record(
                        session,
                        binding,
                        alert,
                        None,
                        {},
                        Action.SKIP,
                        "skipped: when_suspect: no diagnosis of this alert is queued",
                        now,
                    )
                )
            else:
                created.append(_decide(session, binding, alert, now=now, paused=paused, silenced_by=silenced_by))
    return created


def _wait_for_diagnosis(session: Session, binding: Binding, alert: Alert, *, now: datetime) -> None:
    details = {
        "binding": binding.name,
        "remediation": binding.remediation,
        "state": "waiting",
        "reason": suspects.WAITING_REASON,
    }
    _decided(session, alert, details, now)


def on_diagnosed(
    session: Session, alert: Alert, ranked: list[dict[str, Any]] | None, *, now: datetime
) -> list[Execution]:
    """Decide the when_suspect bindings that waited for this alert's diagnosis (ranked None: it
    failed). A binding decided once for the alert (a second diagnosis) is not decided again."""
    decided = set(session.scalars(select(Execution.binding_id).where(Execution.alert_id == alert.id)))
    silence = silences.silenced_by(session, {**alert.labels, "detector": alert.detector}, now)
    paused = state(session).paused
    created = []
    for binding in session.scalars(select(Binding).where(Binding.enabled.is_(True)).order_by(Binding.id)):
        if not binding.when_suspect or binding.id in decided or not binding_service.matches(binding, alert):
            continue
        reason = suspects.skip_reason(binding.when_suspect, ranked)
        if reason is None and alert.state != "firing":
            reason = f"skipped: the alert is {alert.state}, no longer firing"
        if reason is not None:
            created.append(_record(session, binding, alert, None, {}, Action.SKIP, reason, now))
        else:
            created.append(
                _decide(
                    session,
                    binding,
                    alert,
                    now=now,
                    paused=paused,
                    silenced_by=f"silence {silence.id}" if silence else None,
                )
            )
    return created


def _decide(
    session: Session, binding: Binding, alert: Alert, *, now: datetime, paused: bool, silenced_by: str | None
) -> Execution:
    try:
        version = registry.runnable(session, binding.remediation)
    except (NotFoundError, ConflictError) as exc:
        return _record(session, binding, alert, None, {}, Action.SKIP, f"skipped: {exc.message}", now)
    if _active(session, binding.id, alert.fingerprint):
        return _record(session, binding, alert, version, {}, Action.SKIP, executions.SLOT_TAKEN, now)
    decision = decide(
        binding=binding_service.policy(binding),
        now=now,
        paused=paused,
        silenced_by=silenced_by,
        last_run_at_for_fingerprint=_last_run(session, binding.id, alert.fingerprint),
        runs_in_window=_runs_since(session, binding.id, now - timedelta(seconds=binding.rate_window_s)),
        breaker_open=binding.breaker_open,
        running_for_remediation=waiting_or_running(session, binding.remediation),
        max_concurrency=version.max_concurrency,
    )
    try:
        params = validate_params(version.params_schema, render_params(binding.params, alert_context(alert)))
    except ParamsError as exc:
        return _record(session, binding, alert, version, {}, Action.SKIP, f"skipped: {exc}", now)
    return _record(session, binding, alert, version, params, _ACTION_OF_DECISION[decision.action], decision.reason, now)


def _record(
    session: Session,
    binding: Binding,
    alert: Alert,
    version: RemediationVersion | None,
    params: dict[str, Any],
    action: Action,
    reason: str,
    now: datetime,
) -> Execution:
    execution = executions.decide(
        session, action=action, binding=binding, alert=alert, version=version, params=params, reason=reason, now=now
    )
    details = {
        "binding": binding.name,
        "remediation": binding.remediation,
        "state": execution.state,
        "reason": execution.reason,
        "execution_id": execution.id,
    }
    _decided(session, alert, details, now)
    return execution


def _decided(session: Session, alert: Alert, details: dict[str, Any], now: datetime) -> None:
    """remediation.decided on the alert's timeline and automation.decide in the audit log."""
    publish(session, [Event("automation.decide", now, alert=alert, target=f"alert:{alert.id}", details=details)])


def _active(session: Session, binding_id: int, fingerprint: str) -> bool:
    return (
        session.scalar(
            select(Execution.id)
            .where(
                Execution.binding_id == binding_id,
                Execution.fingerprint == fingerprint,
                Execution.state.in_(ACTIVE_STATES),
            )
            .limit(1)
        )
        is not None
    )


def _last_run(session: Session, binding_id: int, fingerprint: str) -> datetime | None:
    # Active rows keep the fingerprint column; finished ones are found through their alert.
    return session.scalar(
        select(func.max(Execution.queued_at))
        .join(Alert, Alert.id == Execution.alert_id)
        .where(Execution.binding_id == binding_id, Alert.fingerprint == fingerprint, Execution.state.in_(RAN_STATES))
    )


def _runs_since(session: Session, binding_id: int, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.binding_id == binding_id, Execution.queued_at >= since, Execution.state.in_(RAN_STATES))
        )
        or 0
    )


def running_count(session: Session, remediation: str) -> int:
    """How many runs of this remediation are dispatched or running now."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.remediation == remediation, Execution.state.in_(("dispatched", "running")))
        )
        or 0
    )


def waiting_or_running(session: Session, remediation: str) -> int:
    """Runs that hold or will take a concurrency slot before a new one (queued ones included)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.remediation == remediation, Execution.state.in_(("queued", "dispatched", "running")))
        )
        or 0
    )


def in_flight(session: Session, binding_id: int) -> int:
    """This binding's runs started or handed to a worker, not finished: each may still fail."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Execution)
            .where(Execution.binding_id == binding_id, Execution.state.in_(("dispatched", "running")))
        )
        or 0
    )


def on_resolved(session: Session, alert: Alert, *, now: datetime, config: Config | None = None) -> None:
    """Closed loop: judge the succeeded runs waiting for this alert; pending approvals end (and
    chat is told, given the config)."""
    for execution in session.scalars(
        select(Execution).where(
            Execution.alert_id == alert.id, Execution.state == "succeeded", Execution.outcome.is_(None)
        )
    ):
        effectiveness.judge(session, execution, now=now)
    approvals.cancel_for_resolved(session, alert, now=now, config=config)


def expire_verifications(session: Session, *, now: datetime) -> int:
    """Succeeded runs whose alert did not resolve within the window were not effective."""
    rows = session.scalars(
        select(Execution).where(
            Execution.state == "succeeded", Execution.outcome.is_(None), Execution.verify_until < now
        )
    ).all()
    for execution in rows:
        effectiveness.judge(session, execution, now=now)
    return len(rows)


def state(session: Session) -> AutomationState:
    """The automation switch (its single row, created unpaused when missing)."""
    row = session.get(AutomationState, 1)
    if row is None:
        row = AutomationState(id=1, paused=False, reason="")
        session.add(row)
        session.flush()
    return row


def set_paused(session: Session, *, paused: bool, by: str, now: datetime, reason: str = "") -> AutomationState:
    """Pause or resume all automation, audited with who did it and why."""
    row = state(session)
    row.paused, row.changed_at, row.changed_by, row.reason = paused, now, by, reason
    # Audited on the real clock: rehearsal replays the switch from these records' times.
    publish(
        session,
        [
            Event(
                "automation.pause" if paused else "automation.resume",
                utcnow(),
                actor=by,
                target="automation",
                details={"reason": reason},
            )
        ],
    )
    return row


def dry_run(session: Session, *, name: str, params: dict[str, Any]) -> dict[str, Any]:
    """What a run by hand would start, checked as run_manually checks it, nothing queued. Raises
    NotFoundError, ConflictError or BadRequestError as run_manually does."""
    version = registry.runnable(session, name)
    try:
        validate_params(version.params_schema, params)
    except ParamsError as exc:
        raise BadRequestError(str(exc), exc.errors) from None
    return {
        "dry_run": True,
        "remediation": name,
        "version": version.version,
        "hash": version.hash,
        "argv": [f"<scripts>/{version.hash}"],
        "stdin": {"params": params},
        "timeout_s": version.timeout_s,
    }


def run_manually(
    session: Session, *, name: str, params: dict[str, Any], alert_id: int | None, by: str, now: datetime
) -> Execution:
    """Queue a run of a remediation's latest version by hand, audited. Raises NotFoundError (no such
    remediation or alert), ConflictError (disabled) or BadRequestError (parameters that do not fit
    its schema, naming the field)."""
    version = registry.runnable(session, name)
    try:
        params = validate_params(version.params_schema, params)
    except ParamsError as exc:
        raise BadRequestError(str(exc), exc.errors) from None
    if alert_id:
        get_or_404(session, Alert, alert_id, "alert")  # a run may name the alert it is for
    execution = executions.queue_manual(
        session, name=name, version=version, params=params, alert_id=alert_id, by=by, now=now
    )
    publish(
        session,
        [
            Event(
                "remediation.run",
                utcnow(),
                actor=by,
                target=f"execution:{execution.id}",
                details={"remediation": name, "version": version.version, "alert_id": alert_id},
            )
        ],
    )
    return execution


@dataclass(frozen=True)
class ExecutionQuery:
    """What the API and the dashboard filter executions by (each given one must equal), and the
    keyset page: executions below `cursor`."""

    state: str | None = None
    remediation: str | None = None
    alert_id: int | None = None
    cursor: int | None = None
    limit: int = 50

    def conditions(self) -> list[Any]:
        """The filters as WHERE clauses (the CSV export streams the same rows)."""
        given = {"state": self.state, "remediation": self.remediation, "alert_id": self.alert_id}
        return [getattr(Execution, key) == value for key, value in given.items() if value not in (None, "")]


def search_executions(session: Session, query: ExecutionQuery) -> tuple[list[Execution], int | None]:
    """A page of executions, newest first, and the cursor of the next page (None at the end)."""
    stmt = select(Execution).where(*query.conditions()).order_by(Execution.id.desc()).limit(query.limit + 1)
    if query.cursor:
        stmt = stmt.where(Execution.id < query.cursor)
    return page(list(session.scalars(stmt)), query.limit)


def get_execution(session: Session, execution_id: int) -> Execution:
    """The execution with this id. Raises NotFoundError."""
    return get_or_404(session, Execution, execution_id, "execution")


def stats(session: Session, name: str) -> dict[str, Any]:
    """Run counts in SQL; the verdicts come from effectiveness.counts, as /metrics' do."""
    registry.get(session, name)
    finished = and_(
        Execution.remediation == name,
        Execution.trigger != "diagnostic",  # not remediations
        Execution.state.in_(("succeeded", "failed", "timed_out", "error", "interrupted")),
    )
    runs, ok = session.execute(
        select(func.count(), func.count().filter(Execution.state == "succeeded")).where(finished)
    ).one()
    verdicts = {outcome: n for (_name, outcome), n in effectiveness.counts(session, name).items()}
    effective, judged = verdicts.get("effective", 0), verdicts.get("effective", 0) + verdicts.get("not_effective", 0)
    recoveries = [
        r
        for r in session.scalars(
            select(Execution.recovery_s).where(
                Execution.remediation == name, Execution.outcome == "effective", Execution.recovery_s.is_not(None)
            )
        )
        if r is not None
    ]
    return {
        "remediation": name,
        "runs": runs,
        "succeeded": ok,
        "success_rate": ok / runs if runs else None,
        "judged": judged,
        "effective": effective,
        "not_effective": verdicts.get("not_effective", 0),
        "not_applicable": verdicts.get("not_applicable", 0),
        "effectiveness_rate": effective / judged if judged else None,
        "median_time_to_recovery_s": statistics.median(recoveries) if recoveries else None,
    }
