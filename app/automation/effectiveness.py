"""Whether a remediation worked. Decided here only; the stats API and /metrics both read
the stored verdicts (issue 19: the API said 7 effective runs while /metrics said 5).

A run is judged once it succeeded and its alert either resolved or stayed open past
`verify_window_s` after the run's end:

- `effective`: the run started while its alert was firing and the alert resolved no later
  than `verify_window_s` after the run ended; `recovery_s` is from the run's start to the
  resolution.
- `not_effective`: the alert was still open `verify_window_s` after the run ended (or
  resolved only later).
- `not_applicable`: the alert had already resolved when the run started (an approval given
  late, a run that waited for a slot): nothing it did can be credited with the recovery.

Failed runs and runs without an alert are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation import executions
from app.automation.models import Execution

OUTCOMES = ("effective", "not_effective", "not_applicable")


def verdict(
    *,
    started_at: datetime | None,
    finished_at: datetime | None,
    resolved_at: datetime | None,
    verify_until: datetime | None,
    now: datetime,
) -> tuple[str | None, float | None]:
    """(outcome, recovery_s) of a succeeded run, or (None, None) while it cannot be judged yet."""
    if started_at is None or finished_at is None:
        return None, None
    if resolved_at is not None and resolved_at <= started_at:
        return "not_applicable", None
    if resolved_at is not None and (verify_until is None or resolved_at <= verify_until):
        return "effective", (resolved_at - started_at).total_seconds()
    if resolved_at is not None or (verify_until is not None and now >= verify_until):
        return "not_effective", None
    return None, None


def judge(session: Session, execution: Execution, *, now: datetime) -> str | None:
    """Store the verdict on a succeeded execution (once); returns it, None when not judged yet."""
    if execution.state != "succeeded" or execution.outcome is not None or not execution.alert_id:
        return execution.outcome
    if execution.trigger == "diagnostic":
        return None  # a diagnostic script only looks: it fixes nothing, so it is never judged
    alert = session.get(Alert, execution.alert_id)
    resolved_at = alert.resolved_at if alert is not None and alert.state == "resolved" else None
    outcome, recovery_s = verdict(
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        resolved_at=resolved_at,
        verify_until=execution.verify_until,
        now=now,
    )
    executions.judged(execution, outcome=outcome, recovery_s=recovery_s)
    return outcome


def counts(session: Session, remediation: str | None = None) -> dict[tuple[str, str], int]:
    """{(remediation, outcome): executions} of stored verdicts: what both the API and /metrics show."""
    stmt = (
        select(Execution.remediation, Execution.outcome, func.count())
        .where(Execution.outcome.is_not(None))
        .group_by(Execution.remediation, Execution.outcome)
    )
    if remediation is not None:
        stmt = stmt.where(Execution.remediation == remediation)
    return {(name, str(outcome)): n for name, outcome, n in session.execute(stmt)}


class OutcomeCollector(Collector):
    """vigil_remediation_outcomes_total, counted from the stored verdicts at scrape time, so
    every process (web workers, scheduler, RQ workers) reports the same numbers as the API."""

    def collect(self) -> Iterator[Any]:
        from app.web import db

        family = CounterMetricFamily(
            "vigil_remediation_outcomes",
            "Closed-loop verdicts of successful runs (effective, not_effective, not_applicable)",
            labels=["remediation", "outcome"],
        )
        try:
            with db().read() as session:
                for (name, outcome), n in sorted(counts(session).items()):
                    family.add_metric([name, outcome], n)
        except Exception:  # /metrics must answer while the database is away
            return
        yield family
