"""A person's answer to a waiting execution: approve, reject or cancel; and the waits that end
without one (the approval timed out, or its alert resolved first).

An unanswered approval used to hold its binding's slot for that alert forever, and
approving it much later ran the script against an alert long resolved. Now a wait ends at
`expires_at` (the binding's approval_timeout) or when the alert resolves, and approving a
stale execution needs `force`. Either end is told in chat (config given): the request's
buttons give way to the reason and a notice goes to the alert's thread (app.notify.threads).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation import executions
from app.automation.models import Execution
from app.db import get_or_404, iso, utcnow
from app.errors import ConflictError
from app.events import Event, publish
from config.schema import Config
from config.units import format_duration
from remediations.lifecycle import Action, ExecutionState, allowed

LEGACY_TIMEOUT_S = 3600.0  # approvals stored before expires_at existed wait this long


def approve(
    session: Session,
    *,
    execution_id: int,
    by: str,
    now: datetime,
    force: bool = False,
    comment: str = "",
    config: Config | None = None,
) -> Execution:
    """Queue a waiting execution to run; one whose wait ended (expired, or its alert resolved) runs
    only with force. Raises ConflictError when it cannot be approved, is stale without force, or another
    run of its binding is already active for the alert; NotFoundError when there is no such execution."""
    execution = get_or_404(session, Execution, execution_id, "execution")
    if not _approvable(execution):
        raise ConflictError(f"cannot approve execution {execution_id}: it is {execution.state}")
    stale = staleness(session, execution)
    if stale and not force:
        raise ConflictError(
            f'execution {execution_id} is stale: {stale}; approve with "force": true to run it anyway',
            {"force": f"required: {stale}"},
        )
    _queue(
        session,
        execution,
        by=by,
        comment=comment,
        reason=f"approved by {by}" + (f" (forced: {stale})" if stale else ""),
    )
    details = {"comment": comment, "force": bool(stale), **({"stale": stale} if stale else {})}
    _alert_event(session, execution, "remediation.approved", by, now, details)
    _audit(session, execution, "execution.approve", by, now, details)
    _tell_chat(
        session, config, execution, f"approved by {by}" + (" (forced)" if stale else ""), now, outcome="approved"
    )
    return execution


def reject(
    session: Session, *, execution_id: int, by: str, now: datetime, comment: str = "", config: Config | None = None
) -> Execution:
    """Refuse a waiting execution, so it never runs. Raises ConflictError unless it awaits approval."""
    execution = _expect(session, execution_id, Action.REJECT)
    executions.reject(execution, by=by, comment=comment, now=now)
    _alert_event(session, execution, "remediation.rejected", by, now, {"comment": comment})
    _audit(session, execution, "execution.reject", by, now, {"comment": comment})
    _tell_chat(session, config, execution, f"rejected by {by}", now)
    return execution


def cancel(
    session: Session, *, execution_id: int, by: str, now: datetime, comment: str = "", config: Config | None = None
) -> Execution:
    """Stop an execution that waits for approval or is queued. Raises ConflictError in any other state."""
    execution = _expect(session, execution_id, Action.CANCEL)
    waiting = execution.state == ExecutionState.AWAITING_APPROVAL
    executions.cancel(execution, by=by, reason=f"cancelled by {by}", now=now, comment=comment)
    _alert_event(session, execution, "remediation.cancelled", by, now, {"comment": comment})
    _audit(session, execution, "execution.cancel", by, now, {"comment": comment})
    if waiting:
        _tell_chat(session, config, execution, f"cancelled by {by}", now)
    return execution


def staleness(session: Session, execution: Execution) -> str | None:
    """Why running this execution now may no longer make sense, or None."""
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    if alert is not None and alert.state == "resolved":
        return f"its alert {alert.id} resolved at {iso(alert.resolved_at)}"
    if execution.state == "expired":
        return f"it expired at {iso(execution.finished_at)} with nobody approving it"
    return None


def expire(session: Session, *, now: datetime, config: Config | None = None) -> int:
    """End approvals nobody answered in time (called by every dispatch pass, without a request)."""
    legacy = and_(Execution.expires_at.is_(None), Execution.queued_at <= now - timedelta(seconds=LEGACY_TIMEOUT_S))
    rows = session.scalars(
        select(Execution).where(Execution.state == "awaiting_approval", or_(Execution.expires_at <= now, legacy))
    ).all()
    for execution in rows:
        deadline = execution.expires_at or execution.queued_at + timedelta(seconds=LEGACY_TIMEOUT_S)
        waited = format_duration(round((deadline - execution.queued_at).total_seconds()))
        executions.expire(execution, reason=f"expired: nobody approved it within {waited}", now=now)
        _end_wait(session, execution, now)
        _audit(session, execution, "execution.expire", "system", now, {"reason": execution.reason})
        _tell_chat(session, config, execution, f"expired: nobody approved within {waited}", now)
    return len(rows)


def cancel_for_resolved(session: Session, alert: Alert, *, now: datetime, config: Config | None = None) -> None:
    """A waiting approval ends when its alert resolves (it can still be approved with force)."""
    for execution in session.scalars(
        select(Execution).where(Execution.alert_id == alert.id, Execution.state == "awaiting_approval")
    ):
        executions.cancel(
            execution, by="system", now=now, reason=f"cancelled: alert {alert.id} resolved before anyone approved"
        )
        _end_wait(session, execution, now)
        _audit(session, execution, "execution.cancel", "system", now, {"reason": execution.reason})
        _tell_chat(session, config, execution, "cancelled: alert resolved before anyone approved", now)


def _tell_chat(
    session: Session, config: Config | None, execution: Execution, why: str, now: datetime, outcome: str | None = None
) -> None:
    """The request's buttons give way to `why` (answers given through the API or the dashboard
    too, so no button is left to press); threads.py tells the alert's thread of ended waits."""
    if config is not None:
        # "Expired: nobody approved within 1h"; threads.py adds the thread's notice for these outcomes.
        publish(
            session,
            [
                Event(
                    "approval.answered",
                    now,
                    execution=execution,
                    details={"outcome": outcome or execution.state, "text": why[0].upper() + why[1:]},
                )
            ],
            config=config,
        )


def _end_wait(session: Session, execution: Execution, now: datetime) -> None:
    _alert_event(session, execution, f"remediation.{execution.state}", "system", now, {"reason": execution.reason})


def _approvable(execution: Execution) -> bool:
    return execution.state in ("awaiting_approval", "expired") or (
        execution.state == "cancelled" and execution.cancelled_by == "system"
    )


def _queue(session: Session, execution: Execution, *, by: str, comment: str, reason: str) -> None:
    """Queued again. An ended wait approved with force becomes active again: one active run per
    alert still holds (its alert's fingerprint is the slot)."""
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    try:
        executions.approve(
            session, execution, by=by, comment=comment, reason=reason, fingerprint=alert.fingerprint if alert else None
        )
    except IntegrityError:
        raise ConflictError(
            f"cannot approve execution {execution.id}: another execution of its binding is "
            "already active for this alert"
        ) from None


def _expect(session: Session, execution_id: int, action: Action) -> Execution:
    execution = get_or_404(session, Execution, execution_id, "execution")
    if not allowed(execution.state, action):
        raise ConflictError(f"cannot {action} execution {execution_id}: it is {execution.state}")
    return execution


def _alert_event(
    session: Session, execution: Execution, kind: str, by: str, now: datetime, details: dict[str, object]
) -> None:
    """remediation.<answer or end> on the execution's alert's timeline (none without an alert)."""
    publish(
        session,
        [
            Event(
                kind,
                now,
                actor=by,
                alert_id=execution.alert_id,
                details={"execution_id": execution.id, "remediation": execution.remediation, **details},
            )
        ],
    )


def _audit(
    session: Session, execution: Execution, action: str, by: str, now: datetime, details: dict[str, object]
) -> None:
    # Audited on the real clock, as every audit record without a time of its own
    publish(session, [Event(action, utcnow(), actor=by, target=f"execution:{execution.id}", details=details)])
