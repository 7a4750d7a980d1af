"""The detector scheduler process: APScheduler jobs, active only while holding the lease.

Run by `vigil scheduler` (and started beside Gunicorn by `vigil serve`). Several may run
on several machines; the database lease lets exactly one run jobs, and the slot table
makes sure a slot taken over mid-way does not run twice.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete

from app.automation import bindings, isolation
from app.automation import service as automation_service
from app.automation.dispatch import Dispatcher
from app.db import Database, utcnow
from app.detection import job, lease
from app.detection.models import DetectorSlot
from app.diagnostics.worker import DiagnosisWorker
from app.ingest import service as ingest_service
from app.notify import service as notify_service
from app.notify.sender import Sender
from config.errors import ConfigError
from config.schema import Config, DetectorConfig
from detectors.diagnosis import signals
from detectors.sources import Source, build_source
from remediations.backends.inline import InlineBackend

log = logging.getLogger("vigil.scheduler")


class LockedSource:
    """Serialises fetches of one source: scrape and host sources keep rolling windows."""

    def __init__(self, source: Source) -> None:
        self._source, self._lock = source, threading.Lock()
        self.name = source.name
        self.history = getattr(source, "history", None)  # a scrape source's ring for diagnoses (own lock)

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float):  # type: ignore[no-untyped-def]
        with self._lock:
            return self._source.fetch(query, start=start, end=end, step_s=step_s)


class Scheduler:
    """One scheduler process: renews or takes the lease on each tick and, while holding it, runs the
    detector jobs, the inbox, the notification senders, diagnosis and automation dispatch."""

    def __init__(
        self,
        config: Config,
        database: Database,
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config, self.database, self.clock = config, database, clock
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.settings = config.settings.scheduler
        self.sources: dict[str, Source] = {
            s.name: LockedSource(build_source(s, history=signals.scrape_history_for(s, config.detectors)))
            for s in config.sources
        }
        self.detectors = {d.name: d for d in config.detectors if d.enabled}
        self.active = False
        automation = config.settings.automation
        remote = None
        if automation.backend == "rq":
            if automation.redis_url is None:
                raise ConfigError(
                    f"{config.source_file}: settings.automation.redis_url: required for backend rq (or set REDIS_URL)"
                )
            from app.automation.rq_queue import RQQueue

            remote = RQQueue(automation.redis_url.get_secret_value())
        self.backend = (
            None
            if remote
            else InlineBackend(
                automation.max_workers, max_pending=automation.max_workers * 64, launcher=isolation.launcher(config)
            )
        )
        self.dispatcher = Dispatcher(
            database,
            self.backend,
            config,
            holder=self.holder,
            scripts_dir=Path(config.settings.data_dir).resolve() / "scripts",
            environ=environ or {},
            remote=remote,
        )
        self._last_reconcile = datetime.min.replace(tzinfo=timezone.utc)
        self.sender = Sender(database, config.channels, public_url=config.settings.public_url)
        self.diagnosis = DiagnosisWorker(database, config, self.sources, holder=self.holder, clock=clock)
        self._last_repeat_check = datetime.min.replace(tzinfo=timezone.utc)
        self._threads: list[threading.Thread] = []
        self._aps = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(self.settings.max_workers)}, timezone=timezone.utc
        )

    def run_forever(self, stop: threading.Event) -> None:
        self._aps.start(paused=False)
        log.info("scheduler started", extra={"holder": self.holder, "detectors": len(self.detectors)})
        # The inbox and each channel have their own thread: a webhook hanging until its
        # timeout delayed new alerts from 0.5 s to 91 s when one thread did both.
        inbox = threading.Thread(target=self._inbox_loop, args=(stop,), name="vigil-inbox", daemon=True)
        inbox.start()
        self._threads = [
            inbox,
            *self.sender.start(stop, active=lambda: self.active),
            self.diagnosis.start(stop, active=lambda: self.active),
        ]
        try:
            while not stop.is_set():
                self.tick()
                stop.wait(min(self.settings.renew_every_s, 1.0) if self.active else self.settings.renew_every_s)
        finally:
            self.shutdown()

    def tick(self) -> None:
        """Renew or take the lease, start or stop jobs accordingly, serve run requests."""
        now = self.clock()
        try:
            with self.database.write() as session:
                holding = lease.acquire(session, holder=self.holder, now=now, ttl_s=self.settings.lease_ttl_s)
                requested = job.take_requests(session) if holding else []
        except Exception:  # the database may be briefly away; try again next tick
            log.exception("scheduler could not reach the database", extra={"holder": self.holder})
            holding, requested = False, []
        if holding and not self.active:
            self._take_over(now)
        elif not holding and self.active:
            self._stop_jobs()
        for name in requested:
            if name in self.detectors:
                self._aps.add_job(self._run, args=(name, False), id=f"manual-{name}-{now.timestamp()}")
        if self.active:
            self._automation_tick(now)

    def _take_over(self, now: datetime) -> None:
        with self.database.write() as session:
            bindings.sync_from_config(session, self.config.bindings, now=now)
            job.resolve_orphans(session, self.config, now=now)  # "detector removed"
        self.sender.recover()
        self.diagnosis.recover()
        interrupted = self.dispatcher.recover()
        if interrupted:
            log.warning(
                "scheduler marked executions interrupted", extra={"holder": self.holder, "executions": interrupted}
            )
        self._start_jobs(now)

    def _automation_tick(self, now: datetime) -> None:
        """Start approved and manual executions; judge closed-loop verifications that timed out."""
        try:
            self.dispatcher.dispatch()
            if now - self._last_reconcile > timedelta(seconds=5):
                self.dispatcher.reconcile()
                self._last_reconcile = now
            with self.database.write() as session:
                automation_service.expire_verifications(session, now=now)
                if now - self._last_repeat_check > timedelta(seconds=30):
                    notify_service.enqueue_repeats(session, self.config, now=now)
                    self._last_repeat_check = now
        except Exception:
            log.exception("scheduler automation tick failed", extra={"holder": self.holder})

    def _start_jobs(self, now: datetime) -> None:
        log.info("scheduler took the lease; starting jobs", extra={"holder": self.holder, "jobs": len(self.detectors)})
        self.active = True
        for name, d in self.detectors.items():
            first = datetime.fromtimestamp(math.ceil(now.timestamp() / d.interval) * d.interval, timezone.utc)
            self._aps.add_job(
                self._run,
                IntervalTrigger(
                    seconds=d.interval, start_date=first, jitter=min(self.settings.jitter_s, d.interval / 4) or None
                ),
                args=(name, True),
                id=name,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(d.interval / 2)),
                replace_existing=True,
            )
        self._prune_slots(now)

    def _inbox_loop(self, stop: threading.Event) -> None:
        """While holding the lease: apply inbound alerts (notifications are sent elsewhere)."""
        while not stop.wait(0.2):
            if not self.active:
                continue
            try:
                self._process_inbox()
            except Exception:  # the database may be away; rows wait in the inbox
                log.exception("scheduler inbox pass failed", extra={"holder": self.holder})

    def _process_inbox(self) -> None:
        with self.database.write() as session:
            processed, queued = ingest_service.process(session, self.config, now=self.clock())
        if queued:
            self.dispatcher.dispatch()
        if processed:
            log.info("scheduler processed inbound alerts", extra={"holder": self.holder, "alerts": processed})

    def _stop_jobs(self) -> None:
        log.warning("scheduler lost the lease; stopping jobs", extra={"holder": self.holder})
        self.active = False
        self._aps.remove_all_jobs()

    def _run(self, name: str, scheduled: bool) -> None:
        definition: DetectorConfig = self.detectors[name]
        now = self.clock()
        scheduled_job = self._aps.get_job(name)
        try:
            job.run(
                self.database,
                self.config,
                definition,
                self.sources[definition.source],
                holder=self.holder,
                now=now,
                slot=job.slot_of(definition, now) if scheduled else None,
                next_run_at=scheduled_job.next_run_time if scheduled_job else None,
                on_queued=self.dispatcher.dispatch,
            )
        except Exception:  # a failure of one detector must not stop the others
            log.exception("detector run failed", extra={"detector": name})

    def _prune_slots(self, now: datetime) -> None:
        with self.database.write() as session:
            session.execute(delete(DetectorSlot).where(DetectorSlot.claimed_at < now - timedelta(days=1)))

    def shutdown(self) -> None:
        # In-flight sends get a moment to record their outcome; one still hanging stays
        # 'sending' and is sent again (same Idempotency-Key) by the next holder.
        deadline = time.monotonic() + 5
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._aps.running:
            self._aps.shutdown(wait=True)
        if self.backend is not None:
            self.backend.shutdown(wait=True)
        try:
            with self.database.write() as session:
                lease.release(session, holder=self.holder)
        except Exception:
            log.exception("scheduler could not release the lease", extra={"holder": self.holder})
