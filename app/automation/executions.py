"""The only writer of execution rows: each row is created, and each column changed, here.

Every state change asks remediations.lifecycle.step first, so the table there is the whole
story of what an execution can go through. Callers keep the why (decisions, approvals, the
runner's result) and the records around a change (timeline, audit, chat); these functions
write the row only, in the caller's session. The conditional UPDATEs that claim a row
(`queued` -> running/dispatched, `dispatched` -> running) stay single statements, so two
dispatchers or two deliveries of one RQ job still cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation.models import Binding, Execution, RemediationVersion
from app.db import iso, utcnow
from remediations import RunResult
from remediations.lifecycle import ACTIVE, Action, ExecutionState, finish_action, step

SLOT_TAKEN = "skipped: already queued or running for this alert"


def decide(
    session: Session,
    *,
    action: Action,
    binding: Binding,
    alert: Alert,
    version: RemediationVersion | None,
    params: dict[str, Any],
    reason: str,
    now: datetime,
) -> Execution:
    """A binding's decision for a firing alert, as a new row. An active row holds the binding's
    slot for the alert's fingerprint; when a concurrent decision won it, this one is skipped."""
    state = step(None, action)
    execution = Execution(
        remediation=binding.remediation,
        version=version.version if version else 0,
        version_hash=version.hash if version else "",
        binding_id=binding.id,
        alert_id=alert.id,
        fingerprint=alert.fingerprint if state in ACTIVE else None,
        state=state.value,
        reason=reason,
        trigger="diagnostic" if binding.kind == "diagnostic" else "alert",
        triggered_by=f"binding:{binding.name}",
        params=params,
        queued_at=now,
        output="",
        truncated=False,
        queue=binding.queue or "default",
        expires_at=now + timedelta(seconds=binding.approval_timeout_s)
        if state == ExecutionState.AWAITING_APPROVAL
        else None,
    )
    try:
        with session.begin_nested():
            session.add(execution)
    except IntegrityError:  # a concurrent decision won the active slot for this fingerprint
        execution = Execution(
            **{**_columns(execution), "state": step(None, Action.SKIP).value, "fingerprint": None, "reason": SLOT_TAKEN}
        )
        session.add(execution)
    session.flush()
    return execution


def _columns(execution: Execution) -> dict[str, Any]:
    return {c.key: getattr(execution, c.key) for c in Execution.__table__.columns if c.key != "id"}


def queue_manual(
    session: Session,
    *,
    name: str,
    version: RemediationVersion,
    params: dict[str, Any],
    alert_id: int | None,
    by: str,
    now: datetime,
) -> Execution:
    """A person's run: queued at once, no binding, no slot."""
    execution = Execution(
        remediation=name,
        version=version.version,
        version_hash=version.hash,
        alert_id=alert_id,
        state=step(None, Action.QUEUE).value,
        reason=f"manual run by {by}",
        trigger="manual",
        triggered_by=by,
        params=params,
        queued_at=now,
        output="",
        truncated=False,
        queue="default",
    )
    session.add(execution)
    session.flush()
    return execution


# ---- dispatch --------------------------------------------------------------------------------


def claim(session: Session, execution: Execution, *, holder: str, remote: bool) -> bool:
    """queued -> running (this process runs it, `holder` recorded) or dispatched (RQ);
    False when another pass took it first."""
    state = step(ExecutionState.QUEUED, Action.DISPATCH if remote else Action.START)
    taken = session.execute(
        update(Execution)
        .where(Execution.id == execution.id, Execution.state == ExecutionState.QUEUED.value)
        .values(state=state.value, runner=holder if state == ExecutionState.RUNNING else "rq")
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def claim_dispatched(session: Session, execution_id: int, *, runner: str) -> bool:
    """An RQ worker's claim, dispatched -> running; False when a duplicate delivery of the job
    (or a reconcile) got there first."""
    state = step(ExecutionState.DISPATCHED, Action.START)
    claimed = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.state == ExecutionState.DISPATCHED.value)
        .values(state=state.value, runner=runner)
    )
    return bool(claimed.rowcount)  # type: ignore[attr-defined]


def requeue(session: Session, execution_id: int, *, from_state: ExecutionState, reason: str) -> None:
    """Give a claimed run back to the queue (Redis or the runner refused it). Unconditional,
    as before: nothing else moves a row its dispatcher has just claimed and failed to hand over."""
    state = step(from_state, Action.REQUEUE)
    session.execute(
        update(Execution).where(Execution.id == execution_id).values(state=state.value, runner=None, reason=reason)
    )


def skip(execution: Execution, reason: str, *, now: datetime) -> None:
    """A queued run that dispatch-time checks stopped."""
    execution.state = step(execution.state, Action.SKIP).value
    execution.fingerprint, execution.finished_at, execution.reason = None, now, reason


def hold(execution: Execution, reason: str) -> None:
    """It stays queued; the reason says why (written only when it changes, not on every pass)."""
    if execution.reason != reason:
        execution.reason = reason


# ---- approvals ---------------------------------------------------------------------------------


def approve(
    session: Session, execution: Execution, *, by: str, comment: str, reason: str, fingerprint: str | None
) -> None:
    """-> queued. An ended wait (expired, or cancelled when its alert resolved) approved with
    force takes its binding's slot for the alert (`fingerprint`) again: IntegrityError when
    another execution holds it, with this row unchanged in the database."""
    state = step(execution.state, Action.APPROVE)
    if execution.state != ExecutionState.AWAITING_APPROVAL:
        with session.begin_nested():
            execution.fingerprint, execution.state = fingerprint, state.value
            session.flush()
    execution.state, execution.approved_by, execution.comment = state.value, by, comment
    execution.finished_at, execution.cancelled_by = None, None
    execution.reason = reason


def reject(execution: Execution, *, by: str, comment: str, now: datetime) -> None:
    """A person refused the waiting run: it ends rejected and frees its slot."""
    execution.state = step(execution.state, Action.REJECT).value
    execution.rejected_by, execution.fingerprint = by, None
    execution.reason, execution.finished_at, execution.comment = f"rejected by {by}", now, comment


def cancel(execution: Execution, *, by: str, reason: str, now: datetime, comment: str | None = None) -> None:
    """By a person (with their comment) or by the system when the alert resolved (comment kept)."""
    execution.state = step(execution.state, Action.CANCEL).value
    execution.fingerprint, execution.finished_at, execution.reason = None, now, reason
    execution.cancelled_by = by
    if comment is not None:
        execution.comment = comment


def expire(execution: Execution, *, reason: str, now: datetime) -> None:
    """Nobody approved in time: the waiting run ends expired and frees its slot."""
    execution.state = step(execution.state, Action.EXPIRE).value
    execution.fingerprint, execution.finished_at, execution.reason = None, now, reason


# ---- the runner's reports ----------------------------------------------------------------------


def started(execution: Execution, *, pid: int, now: datetime) -> None:
    """The script's process exists (no state change: the claim already made it running)."""
    execution.pid, execution.started_at = pid, now


def write_output(session: Session, execution_id: int, text: str) -> None:
    """The output so far, while it still runs (a late report never overwrites a final output)."""
    session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.state == ExecutionState.RUNNING.value)
        .values(output=text)
    )


def finish(execution: Execution, result: RunResult) -> None:
    """running -> the result's status, with its output, exit code and times; the slot is freed."""
    execution.state = step(execution.state, finish_action(result.status)).value
    execution.exit_code = result.exit_code
    execution.output, execution.truncated = result.output, result.truncated
    execution.started_at = execution.started_at or result.started_at
    execution.finished_at, execution.duration_s = result.finished_at, result.duration_s
    execution.fingerprint = None


def fail(execution: Execution, reason: str) -> None:
    """A claimed run that could not even start (its script could not be written, say)."""
    _end(execution, Action.ERROR, reason)


def interrupt(execution: Execution, reason: str) -> str:
    """Its runner died. If the script had been started it may have run to completion (side
    effects and all: a killed RQ worker's script went on to its end), so say so. Returns the
    reason as stored."""
    if execution.started_at is not None:
        execution.outcome_unknown = True
        reason += (
            f"; the script was started at {iso(execution.started_at)}; its result never came back: "
            "it may have run to completion"
        )
    elif execution.state == ExecutionState.RUNNING:  # claimed; the start may have happened but not been recorded
        execution.outcome_unknown = True
        reason += "; the runner took it but no start was recorded: the script may have run"
    else:
        reason += "; the script never started"
    _end(execution, Action.INTERRUPT, reason)
    return reason


def _end(execution: Execution, action: Action, reason: str) -> None:
    execution.state = step(execution.state, action).value
    execution.fingerprint, execution.finished_at = None, utcnow()
    execution.reason = reason


# ---- after the run ------------------------------------------------------------------------------


def watch(execution: Execution, *, until: datetime) -> None:
    """A succeeded run is judged by its alert resolving before `until`."""
    execution.verify_until = until


def judged(execution: Execution, *, outcome: str | None, recovery_s: float | None) -> None:
    """Store the run's verdict (app.automation.effectiveness) and the seconds from its start to its
    alert's resolution (None unless it was effective)."""
    execution.outcome, execution.recovery_s = outcome, recovery_s
