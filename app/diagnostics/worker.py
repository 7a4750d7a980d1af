"""The scheduler's diagnosis thread: claim a queued diagnosis, fetch, rank, store.

It runs beside the detector jobs but never inside them: firing an alert only adds a
queued row (diagnostics.service.on_firing), so a slow Prometheus or 5,000 signals never
hold up alert processing or notifications. The database is touched only to claim and to
store; nothing is held open while fetching.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from app.alerts.models import Alert
from app.db import Database, iso, utcnow
from app.diagnostics import service
from app.diagnostics.models import Diagnosis
from app.notify import service as notify
from app.silences import service as silences
from config.schema import Config, DiagnoseConfig, PrometheusSource
from detectors.diagnosis import signals
from detectors.errors import DetectorError
from detectors.sources import Source
from detectors.sources.prometheus import PrometheusClient

log = logging.getLogger("vigil.diagnostics")

POLL_S = 1.0


class DiagnosisWorker:
    """Runs queued diagnoses one at a time.

    Args:
        database, config: as the scheduler's.
        sources: the scheduler's sources by name (host and scrape sources keep the only
            history of their signals); Prometheus sources get a client of their own
            that allows max_signals series.
        holder: the scheduler's lease holder id (recorded on claimed rows).
    """

    def __init__(self, database: Database, config: Config, sources: Mapping[str, Source], *, holder: str,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.database, self.config, self.sources = database, config, sources
        self.holder, self.clock = holder, clock

    def start(self, stop: threading.Event, active: Callable[[], bool]) -> threading.Thread:
        thread = threading.Thread(target=self._loop, args=(stop, active), name="vigil-diagnosis", daemon=True)
        thread.start()
        return thread

    def recover(self) -> None:
        with self.database.write() as session:
            service.recover(session)

    def _loop(self, stop: threading.Event, active: Callable[[], bool]) -> None:
        while not stop.wait(POLL_S):
            if not active():
                continue
            try:
                self.run_pending()
            except Exception:  # the database may be away; queued rows wait
                log.exception("diagnosis pass failed holder=%s", self.holder)

    def run_pending(self) -> int:
        """Run every claimable diagnosis; returns how many ran."""
        ran = 0
        while True:
            with self.database.write() as session:
                claimed = service.claim(session, holder=self.holder, now=self.clock())
            if claimed is None:
                return ran
            self.run(claimed)
            ran += 1

    def run(self, diagnosis_id: int) -> None:
        """Fetch, rank and store one claimed diagnosis; any failure is stored on its row."""
        with self.database.read() as session:
            job = _job(session, self.config, diagnosis_id)
        try:
            if job is None:
                raise LookupError("the alert or its detector's diagnose: block is gone")
            outcome = self._diagnose(*job)
        except (DetectorError, LookupError, ValueError) as exc:
            log.warning("diagnosis=%s failed: %s", diagnosis_id, exc)
            with self.database.write() as session:
                self._announce(session, service.fail(session, diagnosis_id=diagnosis_id, now=self.clock(),
                                                     error=str(exc)))
            return
        except Exception as exc:  # a bug must not kill the thread; the row says what happened
            log.exception("diagnosis=%s failed", diagnosis_id)
            with self.database.write() as session:
                self._announce(session, service.fail(session, diagnosis_id=diagnosis_id, now=self.clock(),
                                                     error=f"internal error: {exc}"))
            return
        with self.database.write() as session:
            self._announce(session, service.complete(session, diagnosis_id=diagnosis_id, now=self.clock(), **outcome))
            self._summarise(session, diagnosis_id)
        log.info("diagnosis=%s done signals=%d fetch_s=%.2f analyse_s=%.2f", diagnosis_id, outcome["signals"],
                 outcome["fetch_s"], outcome["analyse_s"])

    def _announce(self, session: Any, executions: list[Any]) -> None:
        """Approval requests of the when_suspect bindings the diagnosis decided, as at firing."""
        for execution in executions:
            if execution.state == "awaiting_approval":
                notify.enqueue_remediation(session, self.config, execution=execution, event="approval.requested",
                                           now=self.clock())

    def _summarise(self, session: Any, diagnosis_id: int) -> None:
        """alert.diagnosed to the channels: the top 3 suspects and the alert's link (a silenced
        alert notifies nothing, as at firing)."""
        row = session.get(Diagnosis, diagnosis_id)
        alert = session.get(Alert, row.alert_id) if row is not None and row.state == "done" else None
        now = self.clock()
        if alert is not None and silences.silenced_by(session, {**alert.labels, "detector": alert.detector}, now) is None:
            notify.enqueue_diagnosed(session, self.config, alert=alert, suspects=(row.result or {}).get("suspects", []),
                                     now=now)

    def _diagnose(self, cfg: DiagnoseConfig, source_name: str, labels: dict[str, str], started_at: datetime,
                  direction: int) -> dict[str, Any]:
        source_cfg = self.config.source(source_name)
        start, end = started_at - timedelta(seconds=cfg.lookback), started_at + timedelta(seconds=cfg.after)
        step_s = signals.step_for(cfg)
        source = self._source(source_cfg, cfg)
        began = time.monotonic()
        series, truncated = signals.fetch(source, signals.queries_for(cfg, source_cfg), start=start, end=end,
                                          step_s=step_s, max_signals=cfg.max_signals)
        fetched = time.monotonic()
        result = signals.rank_for_alert(series, labels, start_s=started_at.timestamp(), direction=direction,
                                        top=cfg.top)
        done = time.monotonic()
        window = {"start": iso(start), "end": iso(end), "alert_start": iso(started_at), "step_s": step_s,
                  "direction": direction, "truncated": truncated}
        return {"signals": len(series), "analysed": result.analysed, "changed": result.changed,
                "fetch_s": round(fetched - began, 4), "analyse_s": round(done - fetched, 4),
                "result": {"window": window, "suspects": [s.as_dict() for s in result.suspects]}}

    def _source(self, source_cfg: Any, cfg: DiagnoseConfig) -> Source:
        if isinstance(source_cfg, PrometheusSource):
            # Its own client: a diagnosis selects far more series than a detector may.
            return PrometheusClient(source_cfg.model_copy(update={"max_series": cfg.max_signals}))
        return self.sources[source_cfg.name]


def _job(session: Any, config: Config, diagnosis_id: int) -> tuple[DiagnoseConfig, str, dict[str, str], datetime,
                                                                      int] | None:
    row = session.get(Diagnosis, diagnosis_id)
    alert = session.get(Alert, row.alert_id) if row is not None else None
    cfg = service.settings_for(config, alert) if alert is not None else None
    if alert is None or cfg is None:
        return None
    detector = config.detector(alert.detector)
    assert detector is not None  # settings_for found its diagnose: block
    return cfg, cfg.source or detector.source, dict(alert.labels), alert.started_at, direction_of(alert)


def direction_of(alert: Alert) -> int:
    """+1 when the alert's value is above its threshold, -1 below, 0 when unknown."""
    if alert.value is None or alert.threshold is None or alert.value == alert.threshold:
        return 0
    return 1 if alert.value > alert.threshold else -1
