"""Production defaults for Gunicorn, used by `vigil serve` and by `gunicorn -c gunicorn.conf.py`.

gthread workers: requests mostly wait on the database, and threads keep memory low
(pandas is loaded once per worker). Not gevent: SQLite's locks and greenlets disagree.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from typing import Any

from gunicorn.glogging import Logger

from app import logformat

worker_class = "gthread"
threads = 4
workers = min(2 * multiprocessing.cpu_count(), 8)
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 20  # on SIGTERM/HUP, in-flight requests get this long to finish
keepalive = 5  # behind a load balancer with its own idle timeout above this
# No recycling after N requests: a recycled worker drops the keep-alive connections it holds,
# and a client that had just sent a request on one gets a reset (the 10-minute soak saw 32
# such errors with a limit of 100,000). Worker memory stays flat under load (bench_load
# --soak), so there is no leak to contain; set max_requests in gunicorn.conf.py if one appears.
max_requests = 0
max_requests_jitter = 0
accesslog = None  # Vigil logs one structured line per request itself (with request id)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


class JsonLogger(Logger):
    """Gunicorn's own lines (start, workers booting and dying, and the access log if one is
    set) as JSON objects like Vigil's, instead of its bracketed text."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for handler in self.error_log.handlers + self.access_log.handlers:
            handler.setFormatter(logformat.JsonFormatter())
        if not logging.getLogger().handlers:  # plain `gunicorn wsgi:app`: nobody set up Vigil's own lines
            logformat.configure(fmt="json", level=cfg.loglevel.upper())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.cfg.accesslog:
            return
        # Fields, not Gunicorn's format string: the path without its query string (it could
        # carry a pasted secret), and no request headers (Authorization).
        atoms = self.atoms(resp, req, environ, request_time)
        self.access_log.info(
            "request",
            extra={
                "remote_addr": atoms["h"],
                "method": atoms["m"],
                "path": atoms["U"],
                "status": int(atoms["s"]),
                "bytes": atoms["B"],
                "duration_ms": round(atoms["D"] / 1000, 1),
                "request_id": atoms.get("{x-request-id}o", "-"),
            },
        )


# `gunicorn -c gunicorn.conf.py` logs JSON when VIGIL_LOG_FORMAT=json; `vigil serve` sets this from
# settings.log_format.
logger_class = JsonLogger if os.environ.get("VIGIL_LOG_FORMAT") == "json" else Logger


def child_exit(server: Any, worker: Any) -> None:
    """Gunicorn calls this in the master when a worker has exited, whatever the cause."""
    forget_metrics_of(worker.pid)


def forget_metrics_of(pid: int) -> None:
    """Remove a dead process's live-gauge files so /metrics stops reporting it (its counters
    stay: they are totals, and dropping them would make them go backwards)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def options() -> dict[str, Any]:
    """The settings above as a dict, for Gunicorn's embedded application API."""
    return {
        "worker_class": worker_class,
        "threads": threads,
        "workers": workers,
        "timeout": timeout,
        "graceful_timeout": graceful_timeout,
        "keepalive": keepalive,
        "max_requests": max_requests,
        "max_requests_jitter": max_requests_jitter,
        "accesslog": accesslog,
        "forwarded_allow_ips": forwarded_allow_ips,
        "child_exit": child_exit,
        "logger_class": logger_class,
    }
