"""One structured line per request with its request id; the log formats live in app.logformat."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, g, request
from werkzeug.wrappers import Response

from app import metrics
from app.logformat import configure as configure

log = logging.getLogger("vigil.http")


def request_id(incoming: str) -> str:
    """The caller's X-Request-ID if it is short and plain (so it cannot forge log lines), else a new one."""
    return incoming if 0 < len(incoming) <= 64 and incoming.isascii() and incoming.isprintable() else uuid.uuid4().hex


def record(*, method: str, endpoint: str, path: str, status: int, elapsed_s: float, rid: str, actor: str) -> None:
    """Count, time and log one answered request."""
    metrics.HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    metrics.HTTP_LATENCY.labels(method, endpoint).observe(elapsed_s)
    # The path only, never the query string: it could carry a secret someone pasted.
    log.info(
        "request",
        extra={
            "request_id": rid,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(elapsed_s * 1000, 1),
            "actor": actor,
        },
    )


def instrument(app: Flask) -> None:
    """Give every request of `app` a request id (echoed in X-Request-ID) and count, time and log it
    once answered."""

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.request_id = request_id(request.headers.get("X-Request-ID", ""))

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        rid = g.get("request_id", "")
        response.headers["X-Request-ID"] = rid
        principal = g.get("principal")
        record(
            method=request.method,
            endpoint=request.url_rule.rule if request.url_rule else "unmatched",
            path=request.path,
            status=response.status_code,
            elapsed_s=elapsed,
            rid=rid,
            actor=principal.name if principal else "-",
        )
        return response
