"""The execution state machine: every state an execution row can hold and every allowed move.

    (none) --queue--> queued --start--> running --succeed|fail|time_out|error--> (that outcome)
                      queued --dispatch--> dispatched --start--> running          (rq: a worker claims it)
    (none) --await_approval--> awaiting_approval --approve--> queued
                               awaiting_approval --reject|expire|cancel--> rejected | expired | cancelled
    (none) --skip|dry_run|shadow--> skipped | dry_run | shadow   (decided, never run)
    queued --skip--> skipped (re-checked at dispatch)   queued --cancel--> cancelled
    dispatched|running --interrupt--> interrupted       dispatched|running --requeue--> queued
    expired|cancelled --approve--> queued   (approved with force; the app also requires that a
                                             cancelled wait was ended by the system, not a person)

`step` is pure, like detectors.lifecycle.step: app.automation.executions (the only writer of
execution rows) asks it for the next state before every change, so a move missing from
TRANSITIONS raises instead of leaving a row in a state nothing else expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class ExecutionState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    DISPATCHED = "dispatched"  # handed to RQ, not yet claimed by a worker
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    ERROR = "error"  # could not run (script not written, prlimit could not exec it)
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"  # its runner died; it may have run (outcome_unknown)
    DRY_RUN = "dry_run"
    EXPIRED = "expired"
    SHADOW = "shadow"  # a shadow binding's "would run"


class Action(StrEnum):
    QUEUE = "queue"
    AWAIT_APPROVAL = "await_approval"
    DRY_RUN = "dry_run"
    SHADOW = "shadow"
    SKIP = "skip"
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"
    CANCEL = "cancel"
    DISPATCH = "dispatch"
    START = "start"
    REQUEUE = "requeue"
    SUCCEED = "succeed"
    FAIL = "fail"
    TIME_OUT = "time_out"
    ERROR = "error"
    INTERRUPT = "interrupt"


S, A = ExecutionState, Action  # short names for the tables below

# Active states hold a slot: at most one per binding and fingerprint (a unique partial index).
ACTIVE: tuple[ExecutionState, ...] = (S.AWAITING_APPROVAL, S.QUEUED, S.DISPATCHED, S.RUNNING)
FINAL: tuple[ExecutionState, ...] = (
    S.SUCCEEDED,
    S.FAILED,
    S.TIMED_OUT,
    S.ERROR,
    S.CANCELLED,
    S.REJECTED,
    S.SKIPPED,
    S.INTERRUPTED,
    S.DRY_RUN,
    S.EXPIRED,
    S.SHADOW,
)
RAN: tuple[ExecutionState, ...] = (S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.ERROR, S.INTERRUPTED)  # final, and a run
FAILED: tuple[ExecutionState, ...] = (S.FAILED, S.TIMED_OUT, S.ERROR)  # these count towards a binding's breaker

TRANSITIONS: Mapping[tuple[ExecutionState | None, Action], ExecutionState] = {
    # A decision creates the row (None: no row yet).
    (None, A.QUEUE): S.QUEUED,
    (None, A.AWAIT_APPROVAL): S.AWAITING_APPROVAL,
    (None, A.DRY_RUN): S.DRY_RUN,
    (None, A.SHADOW): S.SHADOW,
    (None, A.SKIP): S.SKIPPED,
    # A person's answer, or a wait that ends without one.
    (S.AWAITING_APPROVAL, A.APPROVE): S.QUEUED,
    (S.EXPIRED, A.APPROVE): S.QUEUED,
    (S.CANCELLED, A.APPROVE): S.QUEUED,
    (S.AWAITING_APPROVAL, A.REJECT): S.REJECTED,
    (S.AWAITING_APPROVAL, A.EXPIRE): S.EXPIRED,
    (S.AWAITING_APPROVAL, A.CANCEL): S.CANCELLED,
    (S.QUEUED, A.CANCEL): S.CANCELLED,
    # Dispatch: decided again, claimed, handed over, or given back.
    (S.QUEUED, A.SKIP): S.SKIPPED,
    (S.QUEUED, A.START): S.RUNNING,
    (S.QUEUED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.START): S.RUNNING,
    (S.DISPATCHED, A.REQUEUE): S.QUEUED,
    (S.RUNNING, A.REQUEUE): S.QUEUED,
    (S.DISPATCHED, A.INTERRUPT): S.INTERRUPTED,
    (S.RUNNING, A.INTERRUPT): S.INTERRUPTED,
    # The runner's result.
    (S.RUNNING, A.SUCCEED): S.SUCCEEDED,
    (S.RUNNING, A.FAIL): S.FAILED,
    (S.RUNNING, A.TIME_OUT): S.TIMED_OUT,
    (S.RUNNING, A.ERROR): S.ERROR,
}

# remediations.RunResult.status -> the action that records it.
_FINISH = {S.SUCCEEDED: A.SUCCEED, S.FAILED: A.FAIL, S.TIMED_OUT: A.TIME_OUT, S.ERROR: A.ERROR}
del S, A


class IllegalTransition(ValueError):
    """No move from `state` by `action` in TRANSITIONS."""

    def __init__(self, state: str | None, action: str) -> None:
        super().__init__(f"an execution cannot {action} from {state or 'no row'}")
        self.state, self.action = state, action


def step(state: str | None, action: str) -> ExecutionState:
    """The state `action` moves an execution in `state` (None: not created yet) to.

    Raises:
        IllegalTransition: the table has no such move, or the state or action is unknown.
    """
    try:
        key = (None if state is None else ExecutionState(state), Action(action))
    except ValueError:
        raise IllegalTransition(state, action) from None
    found = TRANSITIONS.get(key)
    if found is None:
        raise IllegalTransition(state, action)
    return found


def allowed(state: str | None, action: str) -> bool:
    """Whether `step(state, action)` has a move (for checks that answer 409 instead of raising)."""
    try:
        step(state, action)
    except IllegalTransition:
        return False
    return True


def finish_action(status: str) -> Action:
    """The action recording a runner's result status (succeeded, failed, timed_out, error)."""
    try:
        return _FINISH[ExecutionState(status)]
    except (ValueError, KeyError):
        raise IllegalTransition(ExecutionState.RUNNING, f"finish as {status!r}") from None
