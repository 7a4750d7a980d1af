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


def instrument(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        # Keep a caller's id only if it is short and plain, so it cannot forge log lines.
        g.request_id = incoming if 0 < len(incoming) <= 64 and incoming.isascii() and incoming.isprintable() \
            else uuid.uuid4().hex

    @app.after_request
    def _finish(response: Response) -> Response:
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(request.method, endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        principal = g.get("principal")
        # The path only, never the query string: it could carry a secret someone pasted.
        log.info(
            "request_id=%s method=%s path=%s status=%s duration_ms=%.1f actor=%s",
            g.get("request_id"), request.method, request.path, response.status_code, elapsed * 1000,
            principal.name if principal else "-",
            extra={"request_id": g.get("request_id"), "status": response.status_code},
        )
        return response
