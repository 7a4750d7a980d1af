"""The only writer of the diagnoses table: queue, claim, complete, fail, read.

A row is the truth about its diagnosis: queued -> running -> done | failed. Who holds it
is `claimed_by`: None (waiting), the scheduler's holder id (run in its thread), REMOTE
(handed to Redis Queue, backend rq) or "rq-worker:<name>" (running on that worker). Every
claim is one conditional UPDATE, so a scheduler and a worker never both run it.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.automation import service as automation
from app.automation.models import Execution
from app.db import get_or_404
from app.diagnostics.models import Diagnosis
from app.errors import ConflictError, NotFoundError
from app.events import Event, publish
from config.schema import Config, DiagnoseConfig


def settings_for(config: Config, alert: Alert) -> DiagnoseConfig | None:
    """The diagnose: block of the alert's detector (None: its alerts are not diagnosed)."""
    if alert.source != "detector":
        return None
    detector = config.detector(alert.detector)
    return detector.diagnose if detector is not None else None


def on_firing(session: Session, config: Config, alert: Alert, *, now: datetime) -> None:
    """Queue a diagnosis of a newly firing alert whose detector asks for one (cheap: one row)."""
    if settings_for(config, alert) is not None:
        _queue(session, alert, settings_for(config, alert), by="system", now=now)  # type: ignore[arg-type]


def request(session: Session, config: Config, *, alert_id: int, by: str, now: datetime) -> Diagnosis:
    """Queue a diagnosis on demand; one already queued or running is returned as it is.

    Raises:
        NotFoundError: no such alert. ConflictError: its detector has no diagnose: block.
    """
    alert = get_or_404(session, Alert, alert_id, "alert")
    cfg = settings_for(config, alert)
    if cfg is None:
        raise ConflictError(
            f"alert {alert_id} cannot be diagnosed: detector {alert.detector!r} has no diagnose: "
            "block in the configuration",
            {"alert_id": "its detector has no diagnose: block"},
        )
    row = _queue(session, alert, cfg, by=by, now=now)
    publish(session, [Event("alert.diagnose", now, actor=by, target=f"alert:{alert_id}")])
    return row


def _queue(session: Session, alert: Alert, cfg: DiagnoseConfig, *, by: str, now: datetime) -> Diagnosis:
    row = session.scalar(select(Diagnosis).where(Diagnosis.alert_id == alert.id))
    if row is not None and row.state in ("queued", "running"):
        return row
    if row is None:
        row = Diagnosis(alert_id=alert.id)
        session.add(row)
    row.state, row.requested_at, row.requested_by = "queued", now, by
    row.not_before = alert.started_at + timedelta(seconds=cfg.after)
    row.started_at = row.finished_at = row.claimed_by = row.error = row.dispatched_at = None
    row.attempts = 0
    row.signals = row.analysed = row.changed = 0
    row.fetch_s = row.analyse_s = None
    row.result = None
    session.flush()
    return row


REMOTE = "rq"
"""claimed_by of a queued row handed to Redis Queue that no worker has started yet; a
worker's claim makes it `running` with claimed_by "rq-worker:<name>"."""
WORKER_PREFIX = "rq-worker:"


def claim(session: Session, *, holder: str, now: datetime) -> int | None:
    """Take the oldest queued diagnosis whose window is complete; its id, or None."""
    candidate = next_due(session, now=now)
    return (
        candidate if candidate is not None and take(session, diagnosis_id=candidate, holder=holder, now=now) else None
    )


def next_due(session: Session, *, now: datetime, skip: Collection[int] = ()) -> int | None:
    """The oldest queued diagnosis whose window is complete and nobody holds (not in `skip`)."""
    query = select(Diagnosis.id).where(
        Diagnosis.state == "queued", Diagnosis.not_before <= now, Diagnosis.claimed_by.is_(None)
    )
    if skip:
        query = query.where(Diagnosis.id.not_in(list(skip)))
    return session.scalar(query.order_by(Diagnosis.id).limit(1))


def take(session: Session, *, diagnosis_id: int, holder: str, now: datetime) -> bool:
    """queued -> running here (the scheduler's thread); False when someone else has it."""
    # The state in the WHERE makes the claim exclusive whatever the isolation level.
    return (
        _rowcount(
            session.execute(
                update(Diagnosis)
                .where(Diagnosis.id == diagnosis_id, Diagnosis.state == "queued", Diagnosis.claimed_by.is_(None))
                .values(state="running", started_at=now, claimed_by=holder)
            )
        )
        == 1
    )


def hand_over(session: Session, *, diagnosis_id: int, now: datetime) -> int | None:
    """Mark a queued diagnosis as handed to RQ; the attempt number its job must carry, or None."""
    row = session.get(Diagnosis, diagnosis_id)
    if row is None:
        return None
    attempt = row.attempts + 1
    taken = session.execute(
        update(Diagnosis)
        .where(
            Diagnosis.id == diagnosis_id,
            Diagnosis.state == "queued",
            Diagnosis.claimed_by.is_(None),
            Diagnosis.attempts == row.attempts,
        )
        .values(claimed_by=REMOTE, dispatched_at=now, attempts=attempt)
    )
    return attempt if _rowcount(taken) == 1 else None


def hand_back(session: Session, *, diagnosis_id: int, attempt: int) -> None:
    """The job could not be enqueued (Redis away): the row waits for the next pass."""
    session.execute(
        update(Diagnosis)
        .where(Diagnosis.id == diagnosis_id, Diagnosis.claimed_by == REMOTE, Diagnosis.attempts == attempt)
        .values(claimed_by=None, dispatched_at=None, attempts=attempt - 1)
    )


def start_remote(session: Session, *, diagnosis_id: int, attempt: int, holder: str, now: datetime) -> bool:
    """An RQ worker's claim: only the job of the row's latest hand-over may start it, once."""
    return (
        _rowcount(
            session.execute(
                update(Diagnosis)
                .where(
                    Diagnosis.id == diagnosis_id,
                    Diagnosis.state == "queued",
                    Diagnosis.claimed_by == REMOTE,
                    Diagnosis.attempts == attempt,
                )
                .values(state="running", started_at=now, claimed_by=holder)
            )
        )
        == 1
    )


def remote(session: Session) -> list[Diagnosis]:
    """Rows an RQ job holds: handed over, or running on a worker (for reconciliation)."""
    return list(
        session.scalars(
            select(Diagnosis).where(
                ((Diagnosis.state == "queued") & (Diagnosis.claimed_by == REMOTE))
                | ((Diagnosis.state == "running") & Diagnosis.claimed_by.like(f"{WORKER_PREFIX}%"))
            )
        )
    )


def retry_or_fail(
    session: Session, *, diagnosis_id: int, reason: str, now: datetime, max_attempts: int
) -> list[Execution]:
    """A lost RQ job: queue the row again (its next job is a new attempt), or fail it with the
    reason once max_attempts hand-overs were lost. Returns the executions a failure decided."""
    row = session.get(Diagnosis, diagnosis_id)
    if row is None or row.state not in ("queued", "running"):
        return []
    if row.attempts < max_attempts:
        row.state, row.claimed_by, row.started_at = "queued", None, None
        row.error = f"attempt {row.attempts} lost: {reason}; queued again"
        return []
    row.state, row.finished_at = "failed", now
    row.error = f"{reason} (gave up after {row.attempts} attempts)"
    return _decide_waiting(session, row, None, now=now)


def recover(session: Session, *, remote_backend: bool = False) -> int:
    """On take-over: requeue diagnoses left running by a scheduler that went away. Rows RQ
    holds are reconciled from RQ's records instead, unless the backend is no longer rq."""
    local = Diagnosis.claimed_by.is_(None) | ~Diagnosis.claimed_by.like(f"{WORKER_PREFIX}%")
    requeued = _rowcount(
        session.execute(
            update(Diagnosis).where(Diagnosis.state == "running", local).values(state="queued", claimed_by=None)
        )
    )
    if not remote_backend:
        requeued += _rowcount(
            session.execute(
                update(Diagnosis)
                .where(Diagnosis.state.in_(("queued", "running")), Diagnosis.claimed_by.is_not(None))
                .values(state="queued", claimed_by=None)
            )
        )
    return requeued


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)  # an UPDATE's CursorResult (typed as a plain Result)


def complete(
    session: Session,
    *,
    diagnosis_id: int,
    now: datetime,
    signals: int,
    analysed: int,
    changed: int,
    fetch_s: float,
    analyse_s: float,
    result: dict[str, Any],
    holder: str | None = None,
) -> list[Execution]:
    """Store the result; the bindings waiting for it (when_suspect) are decided: their executions.

    With `holder`, only that claim's result is kept (a job handed over again meanwhile is
    another claim, and its answer is the one that counts)."""
    row = session.get(Diagnosis, diagnosis_id)
    if row is None or row.state != "running" or (holder is not None and row.claimed_by != holder):
        return []  # requeued or deleted meanwhile: that run's answer is no longer wanted
    row.state, row.finished_at, row.error = "done", now, None
    row.signals, row.analysed, row.changed = signals, analysed, changed
    row.fetch_s, row.analyse_s, row.result = fetch_s, analyse_s, result
    top = [{"labels": s["labels"], "lead_s": s["lead_s"]} for s in result.get("suspects", [])[:3]]
    publish(session, [Event("alert.diagnosed", now, alert_id=row.alert_id, details={"suspects": top})])
    return _decide_waiting(session, row, result.get("suspects", []), now=now)


def fail(
    session: Session, *, diagnosis_id: int, now: datetime, error: str, holder: str | None = None
) -> list[Execution]:
    """Mark a running diagnosis failed with `error`; the when_suspect bindings waiting for it are
    decided without suspects, and their executions returned. Ignored (no executions) when the
    row is no longer running, or, with `holder`, no longer that claim's."""
    row = session.get(Diagnosis, diagnosis_id)
    if row is None or row.state != "running" or (holder is not None and row.claimed_by != holder):
        return []
    row.state, row.finished_at, row.error = "failed", now, error[:2000]
    return _decide_waiting(session, row, None, now=now)


def _decide_waiting(
    session: Session, row: Diagnosis, suspects: list[dict[str, Any]] | None, *, now: datetime
) -> list[Execution]:
    alert = session.get(Alert, row.alert_id)
    return automation.on_diagnosed(session, alert, suspects, now=now) if alert is not None else []


def get(session: Session, alert_id: int) -> Diagnosis:
    """The alert's diagnosis. Raises NotFoundError (no such alert, or never diagnosed)."""
    get_or_404(session, Alert, alert_id, "alert")
    row = session.scalar(select(Diagnosis).where(Diagnosis.alert_id == alert_id))
    if row is None:
        raise NotFoundError(f"alert {alert_id} has no diagnosis", {"alert_id": "never diagnosed"})
    return row


def latest_result(session: Session, alert_id: int) -> dict[str, Any] | None:
    """The finished diagnosis of an alert as the API answers it, or None (for scripts and matchers)."""
    row = session.scalar(select(Diagnosis).where(Diagnosis.alert_id == alert_id, Diagnosis.state == "done"))
    return row.as_dict() if row is not None else None
