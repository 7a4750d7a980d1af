"""The Flask-RESTX Api under /api/v1: one error shape, health and readiness, each domain's Namespace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from flask_restx import Api, Resource
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app import readiness
from app.automation import isolation
from app.errors import ServiceError
from app.web import cfg, refuse_unstorable_input

log = logging.getLogger("vigil.api")


ERROR_SCHEMA = {
    "type": "object",
    "required": ["message", "errors"],
    "properties": {
        "message": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
# Every operation may answer these; documenting them once keeps the contract honest.
COMMON_ERRORS = {
    "400": "Invalid input (the errors name each field)",
    "401": "No valid token",
    "403": "The token's role is too low",
    "404": "Not found",
    "405": "Method not allowed",
    "409": "Conflicts with the current state",
    "413": "Body too large",
    "415": "Body must be JSON",
    "429": "Too many failed authentications; retry later",
    "503": "Database unavailable; retry",
}


class VigilApi(Api):
    """Every error leaves as {"message": ..., "errors": {...}}; never a traceback."""

    @property
    def __schema__(self) -> dict[str, Any]:
        spec: dict[str, Any] = super().__schema__
        spec.setdefault("definitions", {})["Error"] = ERROR_SCHEMA
        for definition in spec["definitions"].values():
            if definition.get("additionalProperties") is False:
                continue  # a request body: null is not accepted for its fields
            required = set(definition.get("required", ()))
            for name, prop in definition.get("properties", {}).items():
                if name not in required:
                    prop["x-nullable"] = True  # optional values are answered as null
        for path in spec.get("paths", {}).values():
            for method, operation in path.items():
                if method == "parameters":
                    continue
                responses = operation.setdefault("responses", {})
                for code, text_ in COMMON_ERRORS.items():
                    responses.setdefault(code, {"description": text_, "schema": {"$ref": "#/definitions/Error"}})
        return spec

    def handle_error(self, e: Exception) -> Any:
        if isinstance(e, ServiceError):
            return _error(e.status, e.message, e.errors)
        if isinstance(e, (OperationalError, InterfaceError)) or (
            isinstance(e, DBAPIError) and e.connection_invalidated
        ):
            # The database is briefly away (restart, failover, a long lock): nothing was
            # written, since each request is one transaction; the client may retry.
            if "database or disk is full" in str(e.orig):  # SQLITE_FULL: reads still work, writes wait for space
                log.warning("database disk full", extra={"path": request.path})
                return _error(
                    503,
                    "the database's disk is full; nothing was changed, retry once space is freed",
                    None,
                    [("Retry-After", "30")],
                )
            log.warning("database unavailable", extra={"path": request.path, "error": type(e.orig).__name__})
            return _error(503, "database unavailable; nothing was changed, retry shortly", None, [("Retry-After", "2")])
        if isinstance(e, HTTPException):
            data = getattr(e, "data", None) or {}
            message = data.get("message") or e.description or e.name
            errors = data.get("errors") or {}
            return _error(e.code or 500, message, errors, e.get_headers())
        log.exception("unhandled error", extra={"path": request.path})
        return _error(500, "internal error; see the server log for the request id")


def _error(status: int, message: Any, errors: dict[str, Any] | None = None, headers: Any = None) -> Any:
    response = jsonify({"message": str(message), "errors": {k: str(v) for k, v in (errors or {}).items()}})
    response.status_code = status
    for key, value in headers or []:
        if key.lower() != "content-type":
            response.headers[key] = value
    return response


def create_api(app: Flask) -> VigilApi:
    """The Flask-RESTX Api mounted on `app` under /api/v1 (docs at /api/docs), with every domain's
    namespace added and every route's input checked for text no database can store."""
    api = VigilApi(
        app,
        version="1",
        title="Vigil API",
        description="Operational monitoring and auto-remediation",
        prefix="/api/v1",
        default="system",
        default_label="Liveness and readiness",
        doc="/api/docs",
        authorizations={
            "bearer": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "Bearer <token>"}
        },
    )
    from app.alerts.api import ns as alerts_ns
    from app.audit.api import ns as audit_ns
    from app.auth.api import ns as tokens_ns
    from app.automation import api as automation_api
    from app.chat.api import ns as chat_ns
    from app.detection.api import ns as detectors_ns
    from app.diagnostics.api import ns as diagnostics_ns
    from app.incidents.api import ns as incidents_ns
    from app.ingest.api import ns as ingest_ns
    from app.notify import api as notify_api
    from app.rehearsal.api import detectors_ns as detector_rehearsal_ns
    from app.rehearsal.api import ns as rehearsal_ns
    from app.reports.api import ns as reports_ns
    from app.silences.api import ns as silences_ns

    api.add_resource(Health, "/health")
    api.add_resource(Ready, "/ready")
    api.add_namespace(tokens_ns, path="/tokens")
    api.add_namespace(audit_ns, path="/audit")
    api.add_namespace(alerts_ns, path="/alerts")
    api.add_namespace(incidents_ns, path="/incidents")
    api.add_namespace(detectors_ns, path="/detectors")
    api.add_namespace(automation_api.ns, path="/remediations")
    api.add_namespace(automation_api.bindings_ns, path="/bindings")
    api.add_namespace(automation_api.executions_ns, path="/executions")
    api.add_namespace(automation_api.automation_ns, path="/automation")
    api.add_namespace(notify_api.ns, path="/channels")
    api.add_namespace(notify_api.outbox_ns, path="/notifications")
    api.add_namespace(ingest_ns, path="/ingest")
    api.add_namespace(silences_ns, path="/silences")
    api.add_namespace(chat_ns, path="/chat")
    api.add_namespace(diagnostics_ns, path="/alerts")  # /alerts/<id>/diagnosis and /diagnose
    api.add_namespace(rehearsal_ns, path="/bindings")  # /bindings/rehearse
    api.add_namespace(detector_rehearsal_ns, path="/detectors")  # /detectors/<name>/rehearse
    api.add_namespace(reports_ns, path="/reports")
    # One check for every route (API and dashboard): text no database can store never gets in.
    app.before_request(refuse_unstorable_input)
    _json_errors_under_api(app)
    return api


def _json_errors_under_api(app: Flask) -> None:
    """Werkzeug answers unknown routes with HTML; under /api answer in the API's shape."""

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        if request.path.startswith("/api/"):
            errors = (getattr(e, "data", None) or {}).get("errors")
            return _error(e.code or 500, e.description or e.name, errors, e.get_headers())
        return e


class Health(Resource):
    """GET /api/v1/health."""

    def get(self) -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}


class Ready(Resource):
    """GET /api/v1/ready: 200 when Vigil can serve, else 503 saying what is wrong."""

    def get(self) -> Any:
        """Readiness: the database reads and takes writes; the scheduler lease is renewed."""
        body, status = readiness.answer()
        body["isolation"] = isolation.status(cfg()).as_dict()  # how remediation scripts run here
        return body, status
