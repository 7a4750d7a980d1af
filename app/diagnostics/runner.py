"""Run one claimed diagnosis: fetch the signals, rank them, store the result, tell chat.

Used by the scheduler's diagnosis thread (app.diagnostics.worker) and by RQ workers
(app.worker.diagnose) alike. The database is touched only to read the job and to store
the outcome; nothing is held open while fetching.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from app.alerts.models import Alert
from app.db import Database, iso, utcnow
from app.diagnostics import service
from app.diagnostics.models import Diagnosis
from app.events import Event, publish
from app.silences import service as silences
from config.schema import Config, DiagnoseConfig, PrometheusSource, ScrapeSource, SourceConfig
from detectors.diagnosis import signals
from detectors.errors import DetectorError, SourceError
from detectors.series import LabelledSeries
from detectors.sources import Source, build_source
from detectors.sources.prometheus import PrometheusClient

log = logging.getLogger("vigil.diagnostics")


class DiagnosisRunner:
    """Runs claimed diagnoses.

    Args:
        database, config: as the scheduler's.
        sources: the scheduler's sources by name (host and scrape sources keep the only
            history of their signals); Prometheus sources get a client of their own
            that allows max_signals series.
        holder: who claims rows (the scheduler's lease holder id, or "rq-worker:<name>").
    """

    def __init__(
        self,
        database: Database,
        config: Config,
        sources: Mapping[str, Source],
        *,
        holder: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database, self.config, self.sources = database, config, sources
        self.holder, self.clock = holder, clock

    def run(self, diagnosis_id: int) -> str:
        """Fetch, rank and store one diagnosis claimed by this holder; any failure is stored on
        its row. Returns "done" or "failed"."""
        with self.database.read() as session:
            job = _job(session, self.config, diagnosis_id)
        try:
            if job is None:
                raise LookupError("the alert or its detector's diagnose: block is gone")
            outcome = self._diagnose(*job)
        except (DetectorError, LookupError, ValueError) as exc:
            log.warning("diagnosis failed", extra={"diagnosis": diagnosis_id, "error": str(exc)})
            return self._fail(diagnosis_id, str(exc))
        except Exception as exc:  # a bug must not kill the thread; the row says what happened
            log.exception("diagnosis failed", extra={"diagnosis": diagnosis_id})
            return self._fail(diagnosis_id, f"internal error: {exc}")
        with self.database.write() as session:
            self._announce(
                session,
                service.complete(session, diagnosis_id=diagnosis_id, now=self.clock(), holder=self.holder, **outcome),
            )
            self._summarise(session, diagnosis_id)
        log.info(
            "diagnosis done",
            extra={
                "diagnosis": diagnosis_id,
                "by": self.holder,
                "signals": outcome["signals"],
                "fetch_s": round(outcome["fetch_s"], 2),
                "analyse_s": round(outcome["analyse_s"], 2),
            },
        )
        return "done"

    def _fail(self, diagnosis_id: int, error: str) -> str:
        with self.database.write() as session:
            self._announce(
                session,
                service.fail(session, diagnosis_id=diagnosis_id, now=self.clock(), error=error, holder=self.holder),
            )
        return "failed"

    def _announce(self, session: Any, executions: list[Any]) -> None:
        """Approval requests of the when_suspect bindings the diagnosis decided, as at firing."""
        for execution in executions:
            if execution.state == "awaiting_approval":
                publish(session, [Event("approval.requested", self.clock(), execution=execution)], config=self.config)

    def _summarise(self, session: Any, diagnosis_id: int) -> None:
        """alert.diagnosed to the channels: the top 3 suspects and the alert's link (a silenced
        alert notifies nothing, as at firing)."""
        row = session.get(Diagnosis, diagnosis_id)
        done = row is not None and row.state == "done" and row.claimed_by == self.holder
        alert = session.get(Alert, row.alert_id) if done else None
        now = self.clock()
        if (
            alert is not None
            and silences.silenced_by(session, {**alert.labels, "detector": alert.detector}, now) is None
        ):
            suspects = (row.result or {}).get("suspects", [])
            publish(
                session, [Event("alert.suspects", now, alert=alert, details={"suspects": suspects})], config=self.config
            )

    def _diagnose(
        self, cfg: DiagnoseConfig, source_name: str, labels: dict[str, str], started_at: datetime, direction: int
    ) -> dict[str, Any]:
        source_cfg = self.config.source(source_name)
        start, end = started_at - timedelta(seconds=cfg.lookback), started_at + timedelta(seconds=cfg.after)
        step_s = signals.step_for(cfg)
        began = time.monotonic()
        if isinstance(source_cfg, ScrapeSource) and not cfg.queries:
            series, truncated = self._scrape_history(source_cfg, start, end, cfg.max_signals)
        else:
            series, truncated = signals.fetch(
                self._source(source_cfg, cfg),
                signals.queries_for(cfg, source_cfg),
                start=start,
                end=end,
                step_s=step_s,
                max_signals=cfg.max_signals,
            )
        fetched = time.monotonic()
        result = signals.rank_for_alert(
            series, labels, start_s=started_at.timestamp(), direction=direction, top=cfg.top
        )
        done = time.monotonic()
        window = {
            "start": iso(start),
            "end": iso(end),
            "alert_start": iso(started_at),
            "step_s": step_s,
            "direction": direction,
            "truncated": truncated,
        }
        return {
            "signals": len(series),
            "analysed": result.analysed,
            "changed": result.changed,
            "fetch_s": round(fetched - began, 4),
            "analyse_s": round(done - fetched, 4),
            "result": {"window": window, "suspects": [s.as_dict() for s in result.suspects]},
        }

    def _scrape_history(
        self, source_cfg: ScrapeSource, start: datetime, end: datetime, max_signals: int
    ) -> tuple[list[LabelledSeries], bool]:
        """Every series of a scrape target from the ring its source keeps in this process."""
        history = getattr(self.sources.get(source_cfg.name), "history", None)
        where = f'scrape source "{source_cfg.name}"'
        if history is None:
            raise SourceError(
                f"{where} keeps no history of all its series in this process", source=source_cfg.name, permanent=True
            )
        series, dropped = history.series(start.timestamp(), end.timestamp())
        if not series:
            raise SourceError(
                f"{where} has no scrape between {iso(start)} and {iso(end)} (it is scraped when a "
                "detector using it runs; older scrapes leave its bounded history)",
                source=source_cfg.name,
            )
        return series[:max_signals], dropped > 0 or len(series) > max_signals

    def _source(self, source_cfg: SourceConfig, cfg: DiagnoseConfig) -> Source:
        if isinstance(source_cfg, PrometheusSource):
            # Its own client: a diagnosis selects far more series than a detector may.
            return PrometheusClient(source_cfg.model_copy(update={"max_series": cfg.max_signals}))
        found = self.sources.get(source_cfg.name)
        return found if found is not None else build_source(source_cfg)  # a CSV source, on an RQ worker


def runs_anywhere(config: Config, alert: Alert | None) -> bool:
    """True when any process can fetch this diagnosis' signals (not a scrape or host source,
    whose history lives in the scheduler's memory)."""
    cfg = service.settings_for(config, alert) if alert is not None else None
    if alert is None or cfg is None:
        return True  # a worker finds out and records why
    detector = config.detector(alert.detector)
    name = cfg.source or (detector.source if detector is not None else "")
    source = next((s for s in config.sources if s.name == name), None)
    return source is None or source.type not in ("scrape", "host")


def _job(
    session: Any, config: Config, diagnosis_id: int
) -> tuple[DiagnoseConfig, str, dict[str, str], datetime, int] | None:
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
