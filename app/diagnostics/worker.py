"""The scheduler's diagnosis thread: claim a queued diagnosis, fetch, rank, store.

It runs beside the detector jobs but never inside them: firing an alert only adds a
queued row (diagnostics.service.on_firing), so a slow Prometheus or 5,000 signals never
hold up alert processing or notifications. With `settings.automation.backend: rq` the
thread hands the diagnoses any process can fetch to Redis Queue instead of running them
(app.diagnostics.remote), and reconciles the jobs that were lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.db import Database, utcnow
from app.diagnostics import service
from app.diagnostics.models import Diagnosis
from app.diagnostics.remote import MAX_ATTEMPTS, RemoteDiagnoses
from app.diagnostics.runner import DiagnosisRunner, direction_of, runs_anywhere
from config.schema import Config
from detectors.sources import Source

__all__ = ["DiagnosisWorker", "direction_of", "remote_for"]

log = logging.getLogger("vigil.diagnostics")

POLL_S = 1.0
RECONCILE_EVERY_S = 5.0


def remote_for(config: Config) -> RemoteDiagnoses | None:
    """The RQ hand-over when the execution backend is rq, else None (run in the thread)."""
    automation = config.settings.automation
    if automation.backend != "rq" or automation.redis_url is None:
        return None
    return RemoteDiagnoses(automation.redis_url.get_secret_value())


class DiagnosisWorker(DiagnosisRunner):
    """Runs (or, backend rq, hands over) queued diagnoses one at a time.

    Args:
        database, config, sources, holder, clock: see DiagnosisRunner.
        remote: the RQ hand-over; by default from the configuration (remote_for).
    """

    def __init__(
        self,
        database: Database,
        config: Config,
        sources: Mapping[str, Source],
        *,
        holder: str,
        clock: Callable[[], datetime] = utcnow,
        remote: RemoteDiagnoses | None = None,
    ) -> None:
        super().__init__(database, config, sources, holder=holder, clock=clock)
        self.remote = remote if remote is not None else remote_for(config)
        self._last_reconcile: datetime | None = None

    def start(self, stop: threading.Event, active: Callable[[], bool]) -> threading.Thread:
        thread = threading.Thread(target=self._loop, args=(stop, active), name="vigil-diagnosis", daemon=True)
        thread.start()
        return thread

    def recover(self) -> None:
        with self.database.write() as session:
            service.recover(session, remote_backend=self.remote is not None)

    def _loop(self, stop: threading.Event, active: Callable[[], bool]) -> None:
        while not stop.wait(POLL_S):
            if not active():
                continue
            try:
                self.run_pending()
                self._reconcile_now_and_then()
            except Exception:  # the database or Redis may be away; queued rows wait
                log.exception("diagnosis pass failed", extra={"holder": self.holder})

    def run_pending(self) -> int:
        """Run every claimable diagnosis here, handing the others to RQ (backend rq);
        returns how many ran here."""
        ran, waiting = 0, set[int]()
        while True:
            with self.database.write() as session:
                candidate = service.next_due(session, now=self.clock(), skip=waiting)
                if candidate is None:
                    return ran
                handed = self._hand_over(session, candidate)
                taken = handed is None and service.take(
                    session, diagnosis_id=candidate, holder=self.holder, now=self.clock()
                )
            if handed is not None:
                if not self._enqueue(candidate, handed):
                    waiting.add(candidate)  # Redis is away: it waits for the next pass, the others go on
            elif taken:
                self.run(candidate)
                ran += 1

    def _hand_over(self, session: Session, diagnosis_id: int) -> int | None:
        """The attempt handed to RQ, or None to run it here."""
        if self.remote is None:
            return None
        row = session.get(Diagnosis, diagnosis_id)
        alert = session.get(Alert, row.alert_id) if row is not None else None
        if row is None or not runs_anywhere(self.config, alert):
            return None
        return service.hand_over(session, diagnosis_id=diagnosis_id, now=self.clock())

    def _enqueue(self, diagnosis_id: int, attempt: int) -> bool:
        # Only after the hand-over has committed: the worker must find the row handed over.
        assert self.remote is not None  # only called for a row handed over
        try:
            self.remote.enqueue(diagnosis_id, attempt)
        except Exception as exc:  # redis' errors; the row goes back to waiting
            log.warning(
                "diagnosis could not be enqueued on RQ", extra={"diagnosis": diagnosis_id, "error": type(exc).__name__}
            )
            with self.database.write() as session:
                service.hand_back(session, diagnosis_id=diagnosis_id, attempt=attempt)
            return False
        log.info("diagnosis handed to RQ", extra={"diagnosis": diagnosis_id, "attempt": attempt})
        return True

    def _reconcile_now_and_then(self) -> None:
        now = self.clock()
        if self._last_reconcile is None or now - self._last_reconcile >= timedelta(seconds=RECONCILE_EVERY_S):
            self.reconcile()
            self._last_reconcile = now

    def reconcile(self) -> int:
        """Backend rq: rows whose job was lost are queued again (or failed); returns how many."""
        if self.remote is None:
            return 0
        count = 0
        with self.database.write() as session:
            now = self.clock()
            for row in service.remote(session):
                reason = self.remote.lost(row, now)
                if reason is None:
                    continue
                log.warning(
                    "diagnosis job lost", extra={"diagnosis": row.id, "attempt": row.attempts, "reason": reason}
                )
                self._announce(
                    session,
                    service.retry_or_fail(
                        session, diagnosis_id=row.id, reason=reason, now=now, max_attempts=MAX_ATTEMPTS
                    ),
                )
                count += 1
        return count
