"""One detector run as a job: claim the slot, run the pipeline, store findings and status."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import metrics
from app.alerts import service as alerts
from app.db import Database
from app.detection import lease
from app.detection.models import DetectorSlot, DetectorStatus
from app.notify.messages import duration
from app.reactions import react
from config.schema import BlindAlertConfig, Config, DetectorConfig
from detectors import pipeline
from detectors.findings import Finding, Kind
from detectors.pipeline import DetectorRun
from detectors.sources import Source

log = logging.getLogger("vigil.detection")

BLIND_LABEL = "vigil_status"
"""The label of a detector's own error / nodata alerts, which sets them apart from its series'."""
BLIND_KINDS = ("error", "nodata")


def slot_of(definition: DetectorConfig, now: datetime) -> int:
    """Slots are aligned to the epoch, so every scheduler numbers them alike."""
    return round(now.timestamp() / definition.interval)


def run(
    database: Database,
    config: Config,
    definition: DetectorConfig,
    source: Source,
    *,
    holder: str,
    now: datetime,
    slot: int | None,
    next_run_at: datetime | None = None,
    on_queued: Callable[[], object] | None = None,
) -> DetectorRun | None:
    """Run one detector unless another process already ran this slot or we lost the lease.

    A failing source or analysis is recorded on the detector's status and never raised,
    so one broken detector cannot stop the others. `on_queued` is called after commit
    when the run queued remediations, so they start without waiting for a poll.
    """
    with database.write() as session:
        if not lease.holds(session, holder=holder, now=now):
            log.info("detector run skipped: lease not held", extra={"detector": definition.name, "holder": holder})
            return None
        if slot is not None and not _claim(session, definition.name, slot, holder, now):
            log.info("detector slot already ran", extra={"detector": definition.name, "slot": slot})
            return None
    result = pipeline.run(definition, source, now=now)
    with database.write() as session:
        transitions = (
            []
            if result.error
            else alerts.apply(
                session,
                detector=definition.name,
                severity=definition.severity,
                static_labels=definition.labels,
                findings=result.findings,
                now=now,
                grouping=config.settings.incidents,
            )
        )
        status = _status(session, definition.name)
        transitions += watch_blindness(session, definition, status, result, now)
        for t in transitions:
            log.info("alert event", extra={"detector": definition.name, "alert": t.alert_id, "event": t.event})
        queued = react(session, transitions, now=now, config=config)
        _record_status(status, result, now, next_run_at)
    metrics.DETECTOR_RUNS.labels(definition.name, "error" if result.error else "ok").inc()
    metrics.DETECTOR_DURATION.labels(definition.name).observe(result.duration_s)
    if result.error:
        log.warning("detector run failed", extra={"detector": definition.name, "error": result.error})
    if queued and on_queued is not None:
        on_queued()
    return result


def resolve_orphans(session: Session, config: Config, *, now: datetime) -> int:
    """At start: alerts of detectors gone from the configuration resolve ("detector removed"),
    notifying and ending pending approvals like any resolution."""
    transitions = alerts.resolve_orphans(
        session,
        configured=[d.name for d in config.detectors],
        disabled=[d.name for d in config.detectors if not d.enabled],
        now=now,
    )
    for t in transitions:
        log.info("alert resolved: its detector is no longer configured", extra={"alert": t.alert_id})
    react(session, transitions, now=now, config=config)
    return len(transitions)


def _claim(session: Session, detector: str, slot: int, holder: str, now: datetime) -> bool:
    try:
        with session.begin_nested():
            session.add(DetectorSlot(detector=detector, slot=slot, holder=holder, claimed_at=now))
    except IntegrityError:
        return False
    return True


def watch_blindness(
    session: Session, definition: DetectorConfig, status: DetectorStatus, result: DetectorRun, now: datetime
) -> list[alerts.Transition]:
    """Raise or resolve the detector's `error` and `nodata` alerts (Grafana's Error and NoData).

    A run is failed (the source raised), empty (it answered no points) or seeing; each
    streak starts at its first run, and its alert fires once the streak has lasted the
    rule's `for` and resolves with the first run that is not failed (or not empty).
    """
    condition = "error" if result.error else ("nodata" if result.points == 0 else None)
    status.error_since = (status.error_since or now) if condition == "error" else None
    status.no_data_since = (status.no_data_since or now) if condition == "nodata" else None
    transitions: list[alerts.Transition] = []
    rules: tuple[tuple[Kind, BlindAlertConfig, datetime | None], ...] = (
        ("error", definition.on_error, status.error_since),
        ("nodata", definition.on_no_data, status.no_data_since),
    )
    for kind, rule, since in rules:
        firing = rule.alert and since is not None and _lasted(definition, rule, now - since)
        finding = Finding(
            kind=kind,
            labels={BLIND_LABEL: kind},
            state="firing" if firing else "ok",
            active_since=since,
            message=_blind_message(definition, kind, result, since, now),
        )
        transitions += alerts.apply(
            session,
            detector=definition.name,
            severity=rule.severity,
            static_labels=definition.labels,
            findings=[finding],
            now=now,
        )
    return transitions


def _lasted(definition: DetectorConfig, rule: BlindAlertConfig, streak: timedelta) -> bool:
    for_s = rule.for_ if rule.for_ is not None else 3 * definition.interval
    # Runs are jittered around their slot: half an interval of slack keeps "3 intervals"
    # from needing a fifth failed run when the fourth came a second early.
    return streak.total_seconds() + definition.interval / 2 >= for_s


def _blind_message(
    definition: DetectorConfig, kind: str, result: DetectorRun, since: datetime | None, now: datetime
) -> str:
    lasted = duration((now - since).total_seconds()) if since else "0s"
    if kind == "error":
        return f"{definition.name}: the source has failed for {lasted}: {result.error}"
    return f"{definition.name}: the query has returned no data for {lasted}"


def _status(session: Session, name: str) -> DetectorStatus:
    status = session.get(DetectorStatus, name) or DetectorStatus(name=name, runs_total=0, errors_total=0)
    session.add(status)
    return status


def _record_status(status: DetectorStatus, result: DetectorRun, now: datetime, next_run_at: datetime | None) -> None:
    status.last_run_at = now
    status.last_duration_s = result.duration_s
    status.last_error = result.error
    status.points, status.series = result.points, result.series_count
    status.runs_total = (status.runs_total or 0) + 1
    if result.error:
        status.errors_total = (status.errors_total or 0) + 1
    else:
        status.last_ok_at = now
    if next_run_at is not None:
        status.next_run_at = next_run_at


def request_run(session: Session, name: str, now: datetime) -> None:
    """Ask the active scheduler to run a detector soon (web workers never run jobs)."""
    status = session.get(DetectorStatus, name) or DetectorStatus(name=name, runs_total=0, errors_total=0)
    session.add(status)
    status.run_requested_at = now


def take_requests(session: Session) -> list[str]:
    """Names of the detectors someone asked to run, clearing the requests (the active scheduler runs them)."""
    names = list(session.scalars(select(DetectorStatus.name).where(DetectorStatus.run_requested_at.is_not(None))))
    if names:
        session.execute(update(DetectorStatus).where(DetectorStatus.name.in_(names)).values(run_requested_at=None))
    return names


def set_next_run(session: Session, name: str, at: datetime | None) -> None:
    """Record when the scheduler will next run a detector (None: not scheduled)."""
    status = session.get(DetectorStatus, name) or DetectorStatus(name=name, runs_total=0, errors_total=0)
    session.add(status)
    status.next_run_at = at
