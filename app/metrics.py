"""Every prometheus-client metric Vigil exports, defined once, and the /metrics view.

Under Gunicorn each worker is a process: PROMETHEUS_MULTIPROC_DIR (set by the CLI before
anything imports prometheus_client) makes the view aggregate all workers' files.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime, timezone

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select

from config.vocabulary import SEVERITIES, UNSENT_STATES, AlertState

log = logging.getLogger("vigil.metrics")

HTTP_REQUESTS = Counter("vigil_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"])
HTTP_LATENCY = Histogram(
    "vigil_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALERT_LIST_CACHE = Counter(
    "vigil_alert_list_cache_total",
    "GET /api/v1/alerts answers by source: hit (replayed, database unchanged) or miss",
    ["result"],
)
REMEDIATION_RUNS = Counter("vigil_remediation_runs_total", "Remediation executions finished", ["remediation", "status"])
REMEDIATION_DURATION = Histogram(
    "vigil_remediation_duration_seconds",
    "Remediation execution time",
    ["remediation"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
NOTIFICATIONS = Counter(
    "vigil_notifications_total",
    "Notification delivery attempts by outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
INGESTED = Counter("vigil_ingested_alerts_total", "Inbound alerts stored (after deduplication)", ["source"])
INGEST_REJECTED = Counter(
    "vigil_ingest_rejected_total", "Inbound webhook calls refused for credentials", ["source", "reason"]
)
DETECTOR_RUNS = Counter("vigil_detector_runs_total", "Detector runs", ["detector", "outcome"])
DETECTOR_DURATION = Histogram(
    "vigil_detector_run_duration_seconds",
    "Detector fetch + analysis time",
    ["detector"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
)


class LeaseCollector(Collector):
    """The scheduler lease, read from the database at scrape time (there is one lease, so its
    holder is a label of one series): alert on vigil_scheduler_lease_age_seconds > lease_ttl_s."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app import readiness
        from app.db import utcnow
        from app.web import cfg, db

        try:
            with db().read_connection() as connection:
                lease = readiness.lease_state(connection, now=utcnow(), ttl_s=cfg().settings.scheduler.lease_ttl_s)
        except Exception as exc:  # /metrics must answer while the database is away
            log.warning("metrics: could not read the scheduler lease", extra={"error": type(exc).__name__})
            return
        if lease is None:
            return
        age = GaugeMetricFamily(
            "vigil_scheduler_lease_age_seconds", "Seconds since the scheduler lease was last renewed"
        )
        age.add_metric([], lease.age_s)
        info = GaugeMetricFamily(
            "vigil_scheduler_lease_info", "The scheduler lease's holder (value 1)", labels=["holder"]
        )
        info.add_metric([lease.holder], 1)
        yield from (age, info)


class StateCollector(Collector):
    """Gauges of what the database holds, read at scrape time (so every Gunicorn worker
    answers the same and nothing needs multiprocess files): alerts firing by severity, the
    outbox backlog, and each configured detector's last successful run."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from app.db import utcnow
        from app.web import cfg, db

        try:
            with db().read_connection() as connection:
                yield from _state_metrics(connection, utcnow(), [d.name for d in cfg().detectors])
        except Exception as exc:  # /metrics must answer while the database is away
            log.warning("metrics: could not read alert, outbox or detector state", extra={"error": type(exc).__name__})


def _state_metrics(connection: Connection, now: datetime, detectors: list[str]) -> list[GaugeMetricFamily]:
    from app.alerts.models import Alert
    from app.detection.models import DetectorStatus
    from app.notify.models import OutboxMessage

    firing = dict(
        connection.execute(
            select(Alert.severity, func.count()).where(Alert.state == AlertState.FIRING).group_by(Alert.severity)
        ).all()
    )
    alerts = GaugeMetricFamily("vigil_alerts_firing", "Alerts firing now, by severity", labels=["severity"])
    for severity in SEVERITIES:
        alerts.add_metric([severity], firing.get(severity, 0))
    count, oldest = connection.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.state.in_(UNSENT_STATES))
    ).one()
    pending = GaugeMetricFamily("vigil_outbox_pending", "Notifications waiting to be sent (pending or sending)")
    pending.add_metric([], count)
    age = GaugeMetricFamily(
        "vigil_outbox_oldest_pending_age_seconds",
        "Age of the oldest notification waiting to be sent (0 when none waits)",
    )
    age.add_metric([], max(0.0, (now - _aware(oldest)).total_seconds()) if oldest else 0.0)
    last_ok = GaugeMetricFamily(
        "vigil_detector_last_success_timestamp_seconds",
        "Unix time of each detector's last run that fetched and analysed its data",
        labels=["detector"],
    )
    # Only configured detectors: the label's values stay the config's small, fixed set.
    for name, at in connection.execute(
        select(DetectorStatus.name, DetectorStatus.last_ok_at).where(DetectorStatus.name.in_(detectors))
    ).all():
        if at is not None:
            last_ok.add_metric([name], _aware(at).timestamp())
    return [alerts, pending, age, last_ok]


def _aware(at: datetime) -> datetime:
    return (
        at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    )  # UTCDateTime returns aware values; a guard, not a conversion


def register(app: Flask) -> None:
    """Serve GET /metrics: this process's metrics (or all workers' in multiprocess mode) plus those
    read from the database at scrape time (lease, alert and outbox state, remediation outcomes)."""

    @app.get("/metrics")
    def metrics() -> Response:
        from app.automation.effectiveness import OutcomeCollector

        registry = CollectorRegistry()
        registry.register(LeaseCollector())
        registry.register(StateCollector())  # alerts firing, outbox backlog, detectors' last success
        registry.register(OutcomeCollector())  # vigil_remediation_outcomes_total, from the database
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            body = generate_latest(registry)
        else:  # one process: its own metrics, from the default registry
            body = generate_latest() + generate_latest(registry)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
