"""The only writer of the diagnoses table: queue, claim, complete, fail, read."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.alerts.models import Alert, AlertEvent
from app.audit import service as audit
from app.automation import service as automation
from app.automation.models import Execution
from app.db import get_or_404
from app.diagnostics.models import Diagnosis
from app.errors import ConflictError, NotFoundError
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
        raise ConflictError(f"alert {alert_id} cannot be diagnosed: detector {alert.detector!r} has no diagnose: "
                            "block in the configuration", {"alert_id": "its detector has no diagnose: block"})
    row = _queue(session, alert, cfg, by=by, now=now)
    audit.record(session, actor=by, action="alert.diagnose", target=f"alert:{alert_id}", at=now)
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
    row.started_at = row.finished_at = row.claimed_by = row.error = None
    row.signals = row.analysed = row.changed = 0
    row.fetch_s = row.analyse_s = None
    row.result = None
    session.flush()
    return row


def claim(session: Session, *, holder: str, now: datetime) -> int | None:
    """Take the oldest queued diagnosis whose window is complete; its id, or None."""
    candidate = session.scalar(select(Diagnosis.id).where(Diagnosis.state == "queued", Diagnosis.not_before <= now)
                               .order_by(Diagnosis.id).limit(1))
    if candidate is None:
        return None
    # The state in the WHERE makes the claim exclusive whatever the isolation level.
    taken = session.execute(update(Diagnosis).where(Diagnosis.id == candidate, Diagnosis.state == "queued")
                            .values(state="running", started_at=now, claimed_by=holder))
    return candidate if _rowcount(taken) else None


def recover(session: Session) -> int:
    """Requeue diagnoses left running by a scheduler that went away (called on take-over)."""
    return _rowcount(session.execute(update(Diagnosis).where(Diagnosis.state == "running")
                                     .values(state="queued", claimed_by=None)))


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)  # an UPDATE's CursorResult (typed as a plain Result)


def complete(session: Session, *, diagnosis_id: int, now: datetime, signals: int, analysed: int, changed: int,
             fetch_s: float, analyse_s: float, result: dict[str, Any]) -> list[Execution]:
    """Store the result; the bindings waiting for it (when_suspect) are decided: their executions."""
    row = session.get(Diagnosis, diagnosis_id)
    if row is None or row.state != "running":
        return []  # requeued or deleted meanwhile: that run's answer is no longer wanted
    row.state, row.finished_at = "done", now
    row.signals, row.analysed, row.changed = signals, analysed, changed
    row.fetch_s, row.analyse_s, row.result = fetch_s, analyse_s, result
    top = [{"labels": s["labels"], "lead_s": s["lead_s"]} for s in result.get("suspects", [])[:3]]
    session.add(AlertEvent(alert_id=row.alert_id, at=now, kind="diagnosed", details={"suspects": top}))
    return _decide_waiting(session, row, result.get("suspects", []), now=now)


def fail(session: Session, *, diagnosis_id: int, now: datetime, error: str) -> list[Execution]:
    row = session.get(Diagnosis, diagnosis_id)
    if row is None or row.state != "running":
        return []
    row.state, row.finished_at, row.error = "failed", now, error[:2000]
    return _decide_waiting(session, row, None, now=now)


def _decide_waiting(session: Session, row: Diagnosis, suspects: list[dict[str, Any]] | None, *,
                    now: datetime) -> list[Execution]:
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
