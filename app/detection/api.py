"""Detectors: configuration and status, run-now requests, and a live preview."""

from __future__ import annotations

import threading
from typing import Any

from flask import current_app
from flask_restx import Namespace, fields

from app.auth.decorators import Resource, actor, require
from app.db import iso, utcnow
from app.detection import job
from app.detection.models import DetectorStatus
from app.errors import NotFoundError
from app.events import Event, publish
from app.web import cfg, db
from config.schema import DetectorConfig
from detectors import pipeline, requirements
from detectors.sources import Source, build_source

ns = Namespace("detectors", description="Detector definitions, status and preview")

status_out = ns.model(
    "DetectorStatus",
    {
        "last_run_at": fields.String,
        "last_ok_at": fields.String,
        "last_duration_s": fields.Float,
        "last_error": fields.String,
        "next_run_at": fields.String,
        "points": fields.Integer,
        "series": fields.Integer,
        "runs_total": fields.Integer,
        "errors_total": fields.Integer,
        "run_requested_at": fields.String,
    },
)
detector_out = ns.model(
    "Detector",
    {
        "name": fields.String,
        "source": fields.String,
        "query": fields.String,
        "analysis": fields.Raw,
        "interval_s": fields.Float,
        "window_s": fields.Float,
        "severity": fields.String,
        "labels": fields.Raw,
        "enabled": fields.Boolean,
        "description": fields.String,
        "status": fields.Nested(status_out, allow_null=True),
        "warnings": fields.List(fields.String, description="needs of the analysis the window cannot meet"),
    },
)
preview_out = ns.model(
    "DetectorPreview",
    {
        "detector": fields.String,
        "at": fields.String,
        "error": fields.String,
        "points": fields.Integer,
        "series": fields.Integer,
        "duration_s": fields.Float,
        "findings": fields.List(fields.Raw(description="a finding: kind, labels, value, threshold, evidence ...")),
    },
)
_sources_lock = threading.Lock()


def _definition(name: str) -> DetectorConfig:
    found = cfg().detector(name)
    if found is None:
        raise NotFoundError(f"detector {name!r} not found")
    return found


def _status_dict(s: DetectorStatus | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "last_run_at": iso(s.last_run_at),
        "last_ok_at": iso(s.last_ok_at),
        "last_duration_s": s.last_duration_s,
        "last_error": s.last_error,
        "next_run_at": iso(s.next_run_at),
        "points": s.points,
        "series": s.series,
        "runs_total": s.runs_total,
        "errors_total": s.errors_total,
        "run_requested_at": iso(s.run_requested_at),
    }


def _detector_dict(d: DetectorConfig, status: DetectorStatus | None) -> dict[str, Any]:
    return {
        "name": d.name,
        "source": d.source,
        "query": d.query,
        "analysis": d.analysis.model_dump(by_alias=True),
        "interval_s": d.interval,
        "window_s": d.window,
        "severity": d.severity,
        "labels": d.labels,
        "enabled": d.enabled,
        "description": d.description,
        "status": _status_dict(status),
        "warnings": requirements.warnings(d),
    }


def _preview_source(name: str) -> Source:
    """Sources for previews live per web worker (scrape/host sources fill their window over calls)."""
    with _sources_lock:
        cache: dict[str, Source] = current_app.extensions.setdefault("vigil.preview_sources", {})
        if name not in cache:
            cache[name] = build_source(cfg().source(name))
        return cache[name]


@ns.route("")
class Detectors(Resource):
    """/api/v1/detectors: the configured detectors."""

    @require("viewer")
    @ns.marshal_list_with(detector_out)
    def get(self) -> list[dict[str, Any]]:
        """Every configured detector with its last run."""
        with db().read() as session:
            statuses = {s.name: s for s in session.query(DetectorStatus)}
            return [_detector_dict(d, statuses.get(d.name)) for d in cfg().detectors]


@ns.route("/<string:name>")
class Detector(Resource):
    """/api/v1/detectors/<name>: one detector and its last run."""

    @require("viewer")
    @ns.response(404, "No such detector")
    @ns.marshal_with(detector_out)
    def get(self, name: str) -> dict[str, Any]:
        """One detector with its last run, duration, error and next run."""
        definition = _definition(name)
        with db().read() as session:
            return _detector_dict(definition, session.get(DetectorStatus, name))


@ns.route("/<string:name>/run")
class DetectorRunNow(Resource):
    """/api/v1/detectors/<name>/run: ask for a run now."""

    @require("operator")
    @ns.response(202, "The active scheduler will run it within about a second")
    @ns.response(404, "No such detector")
    def post(self, name: str) -> Any:
        """Ask the active scheduler to run this detector now."""
        _definition(name)
        with db().write() as session:
            job.request_run(session, name, utcnow())
            publish(session, [Event("detector.run", utcnow(), actor=actor(), target=f"detector:{name}")])
        return {"message": f"run of {name!r} requested"}, 202


@ns.route("/<string:name>/preview")
class DetectorPreview(Resource):
    """/api/v1/detectors/<name>/preview: what the detector would find now, raising nothing."""

    @require("viewer")
    @ns.response(404, "No such detector")
    @ns.marshal_with(preview_out)
    def get(self, name: str) -> dict[str, Any]:
        """Fetch and analyse now; returns series evidence and findings without raising alerts."""
        definition = _definition(name)
        now = utcnow()
        result = pipeline.run(definition, _preview_source(definition.source), now=now)
        return {
            "detector": name,
            "at": iso(now),
            "error": result.error,
            "points": result.points,
            "series": result.series_count,
            "duration_s": result.duration_s,
            "findings": [f.to_dict() for f in result.findings],
        }
