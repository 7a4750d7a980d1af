"""Dispatch-time checks: a queued run is decided again just before it starts.

The decision made when the alert fired can be out of date by then. A burst of 15 alerts
queued 15 runs before the first one failed, so all 15 ran against a breaker threshold of 3;
the pause switch or a new silence were ignored the same way. Every queued run of a binding
now passes remediations.admit() when it is claimed, and a run it stops says why.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation import bindings, executions
from app.automation.models import Binding, Execution
from app.automation.service import in_flight, running_count
from app.events import Event, publish
from app.silences import service as silences
from remediations import Decision, admit

_RUN = Decision("run", "run: all checks passed")


class Slots:
    """Counts of one claim pass: runs per remediation (concurrency) and per binding (breaker budget)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.running: Counter[str] = Counter()
        self.flying: Counter[int] = Counter()
        self._seen: set[object] = set()

    def running_for(self, remediation: str) -> int:
        if remediation not in self._seen:
            self._seen.add(remediation)
            self.running[remediation] = running_count(self.session, remediation)
        return self.running[remediation]

    def in_flight_for(self, binding_id: int) -> int:
        if ("binding", binding_id) not in self._seen:
            self._seen.add(("binding", binding_id))
            self.flying[binding_id] = in_flight(self.session, binding_id)
        return self.flying[binding_id]

    def take(self, execution: Execution) -> None:
        self.running[execution.remediation] += 1
        if execution.binding_id is not None:
            self.flying[execution.binding_id] += 1


def check(session: Session, execution: Execution, *, now: datetime, paused: bool, slots: Slots) -> Decision:
    """Whether a queued execution may start now; manual runs (a person asked) always may."""
    if execution.trigger not in ("alert", "diagnostic"):
        return _RUN
    # Locked until the pass commits: a run finishing meanwhile (results._update_breaker locks it
    # too) cannot slip between reading the failure count and counting the runs in flight.
    binding = session.get(Binding, execution.binding_id, with_for_update=True) if execution.binding_id else None
    if binding is None:
        return Decision("skip", "skipped at dispatch: its binding was deleted")
    alert = session.get(Alert, execution.alert_id) if execution.alert_id else None
    approved = execution.approved_by is not None  # a person saw the alert and said run
    if alert is not None and alert.state == "resolved" and not approved:
        return Decision("skip", f"skipped at dispatch: its alert {alert.id} resolved before it could start")
    silence = None
    if alert is not None and not approved:
        silence = silences.silenced_by(session, {**alert.labels, "detector": alert.detector}, now)
    return admit(
        binding=bindings.policy(binding),
        paused=paused,
        silenced_by=f"silence {silence.id}" if silence else None,
        breaker_open=binding.breaker_open,
        consecutive_failures=binding.consecutive_failures,
        in_flight=slots.in_flight_for(binding.id),
    )


def skip(session: Session, execution: Execution, reason: str, *, now: datetime) -> None:
    """Mark a queued run skipped (a check at dispatch stopped it) and record why on its alert's timeline
    and in the audit log."""
    executions.skip(execution, reason, now=now)
    details = {"execution_id": execution.id, "remediation": execution.remediation, "reason": reason}
    # remediation.skipped on its alert's timeline (when it has one), execution.skip in the audit log
    publish(
        session,
        [
            Event(
                "execution.skip", now, alert_id=execution.alert_id, target=f"execution:{execution.id}", details=details
            )
        ],
    )


def hold(execution: Execution, reason: str) -> None:
    """Keep it queued and say why (written only when the reason changes, not on every pass)."""
    executions.hold(execution, reason)
