"""Every prometheus-client metric Vigil exports, defined once, and the /metrics view.

Under Gunicorn each worker is a process: PROMETHEUS_MULTIPROC_DIR (set by the CLI before
anything imports prometheus_client) makes the view aggregate all workers' files.
"""
from __future__ import annotations

import os

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client import multiprocess

HTTP_REQUESTS = Counter(
    "vigil_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "vigil_http_request_duration_seconds", "HTTP request latency", ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ALERT_LIST_CACHE = Counter(
    "vigil_alert_list_cache_total", "GET /api/v1/alerts answers by source: hit (replayed, database unchanged) or miss",
    ["result"],
)
REMEDIATION_RUNS = Counter(
    "vigil_remediation_runs_total", "Remediation executions finished", ["remediation", "status"]
)
REMEDIATION_DURATION = Histogram(
    "vigil_remediation_duration_seconds", "Remediation execution time", ["remediation"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
REMEDIATION_OUTCOMES = Counter(
    "vigil_remediation_outcomes_total", "Closed-loop verdicts after successful runs", ["remediation", "outcome"]
)
NOTIFICATIONS = Counter(
    "vigil_notifications_total", "Notification delivery attempts by outcome (sent, retry, failed)",
    ["channel", "outcome"],
)
INGESTED = Counter("vigil_ingested_alerts_total", "Inbound alerts stored (after deduplication)", ["source"])
INGEST_REJECTED = Counter(
    "vigil_ingest_rejected_total", "Inbound webhook calls refused for credentials", ["source", "reason"]
)
DETECTOR_RUNS = Counter("vigil_detector_runs_total", "Detector runs", ["detector", "outcome"])
DETECTOR_DURATION = Histogram(
    "vigil_detector_run_duration_seconds", "Detector fetch + analysis time", ["detector"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
)


def register(app: Flask) -> None:
    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            body = generate_latest(registry)
        else:
            body = generate_latest()
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
