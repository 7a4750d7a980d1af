"""Production defaults for Gunicorn, used by `vigil serve` and by `gunicorn -c gunicorn.conf.py`.

gthread workers: requests mostly wait on the database, and threads keep memory low
(pandas is loaded once per worker). Not gevent: SQLite's locks and greenlets disagree.
"""
from __future__ import annotations

import multiprocessing
import os
from typing import Any

worker_class = "gthread"
threads = 4
workers = min(2 * multiprocessing.cpu_count(), 8)
timeout = 30              # a worker silent this long is killed and replaced
graceful_timeout = 20     # on SIGTERM/HUP, in-flight requests get this long to finish
keepalive = 5             # behind a load balancer with its own idle timeout above this
# No recycling after N requests: a recycled worker drops the keep-alive connections it holds,
# and a client that had just sent a request on one gets a reset (the 10-minute soak saw 32
# such errors with a limit of 100,000). Worker memory stays flat under load (bench_load
# --soak), so there is no leak to contain; set max_requests in gunicorn.conf.py if one appears.
max_requests = 0
max_requests_jitter = 0
accesslog = None          # Vigil logs one structured line per request itself (with request id)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


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
    return {"worker_class": worker_class, "threads": threads, "workers": workers, "timeout": timeout,
            "graceful_timeout": graceful_timeout, "keepalive": keepalive, "max_requests": max_requests,
            "max_requests_jitter": max_requests_jitter, "accesslog": accesslog,
            "forwarded_allow_ips": forwarded_allow_ips, "child_exit": child_exit}
