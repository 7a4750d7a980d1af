"""Logging setup and one structured line per request with its request id."""
from __future__ import annotations

import logging
import sys
import time
import uuid

from flask import Flask, g, request
from werkzeug.wrappers import Response

from app import metrics

log = logging.getLogger("vigil.http")


def configure(*, fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # apprise logs full target URLs (secrets) at DEBUG; keep it quieter than that.
    logging.getLogger("apprise").setLevel(max(logging.INFO, logging.getLevelName(level)))


def request_id(incoming: str) -> str:
    """The caller's X-Request-ID if it is short and plain (so it cannot forge log lines), else a new one."""
    return incoming if 0 < len(incoming) <= 64 and incoming.isascii() and incoming.isprintable() \
        else uuid.uuid4().hex


def record(*, method: str, endpoint: str, path: str, status: int, elapsed_s: float, rid: str, actor: str) -> None:
    """Count, time and log one answered request."""
    metrics.HTTP_REQUESTS.labels(method, endpoint, str(status)).inc()
    metrics.HTTP_LATENCY.labels(method, endpoint).observe(elapsed_s)
    # The path only, never the query string: it could carry a secret someone pasted.
    log.info("request_id=%s method=%s path=%s status=%s duration_ms=%.1f actor=%s",
             rid, method, path, status, elapsed_s * 1000, actor, extra={"request_id": rid, "status": status})


def instrument(app: Flask) -> None:
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
        record(method=request.method, endpoint=request.url_rule.rule if request.url_rule else "unmatched",
               path=request.path, status=response.status_code, elapsed_s=elapsed, rid=rid,
               actor=principal.name if principal else "-")
        return response
