"""Detectors: configuration and last run, a live preview the page fetches as JSON, and a
detector's page with its rehearsal over the metric's real history (actual vs rehearsed alerts)."""

from __future__ import annotations

import threading
from typing import Any

import yaml
from flask import current_app, jsonify, render_template, request
from sqlalchemy import select

from app.dashboard.blueprint import bp
from app.dashboard.display import chart_data
from app.dashboard.rehearsal_charts import rehearsal_charts
from app.dashboard.session import require
from app.db import utcnow
from app.detection.models import DetectorStatus
from app.errors import BadRequestError, NotFoundError, ServiceError
from app.rehearsal import detector as rehearsal
from app.web import cfg, db
from config.schema import DetectorConfig
from detectors import pipeline
from detectors.errors import SourceError
from detectors.sources import Source, build_source

MAX_PREVIEW_SERIES = 6
_sources_lock = threading.Lock()


@bp.get("/detectors")
def detectors() -> Any:
    """The detectors page: every configured detector with its last run's status."""
    with db().read() as s:
        statuses = {row.name: row for row in s.scalars(select(DetectorStatus))}
    return render_template("dashboard/detectors.html", detectors=cfg().detectors, statuses=statuses)


@bp.get("/detectors/<name>/preview.json")
def preview_json(name: str) -> Any:
    """Fetch and analyse now, as the API's preview does; nothing is stored, no alert is raised."""
    definition = _definition(name)
    result = pipeline.run(definition, _source(definition.source), now=utcnow())
    findings = [
        {
            "labels": f.labels,
            "state": f.state,
            "message": f.message,
            "chart": chart_data(f.to_dict(), threshold=f.threshold, title=name),
        }
        for f in result.findings[:MAX_PREVIEW_SERIES]
    ]
    return jsonify(
        {
            "detector": name,
            "error": result.error,
            "series": result.series_count,
            "points": result.points,
            "duration_s": result.duration_s,
            "findings": findings,
        }
    )


def _definition(name: str) -> DetectorConfig:
    found = cfg().detector(name)
    if found is None:
        raise NotFoundError(f"detector {name!r} not found")
    return found


def _source(name: str) -> Source:
    # Shared with the API's preview: scrape and host sources fill their window over calls.
    with _sources_lock:
        cache: dict[str, Source] = current_app.extensions.setdefault("vigil.preview_sources", {})
        if name not in cache:
            cache[name] = build_source(cfg().source(name))
        return cache[name]


@bp.get("/detectors/<name>")
def detector(name: str) -> Any:
    """A detector's definition and last run, and a form to rehearse it over its real history."""
    return _detector_page(_definition(name), {"since": "7d", "until": "", "changes": ""})


@bp.post("/detectors/<name>/rehearse")
@require("operator")
def detector_rehearse(name: str) -> Any:
    """Replay the detector (with the form's changes) over the metric's history: actual vs rehearsed."""
    configured = _definition(name)
    form = {k: request.form.get(k, "").strip() for k in ("since", "until", "changes")}
    try:
        since, until = rehearsal.period(form["since"] or None, form["until"] or None, utcnow())
        definition = rehearsal.definition(cfg(), name, _changes(form["changes"]))
    except ServiceError as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        return _detector_page(configured, form, error=f"{exc.message}{f' ({details})' if details else ''}", status=400)
    try:
        fetched = rehearsal.history(cfg(), definition, since=since, until=until)
    except SourceError as exc:
        return _detector_page(
            configured, form, error=f"source {definition.source!r} could not answer: {exc}", status=502
        )
    with db().read() as s:
        answer = rehearsal.replay_fetched(s, definition, fetched, since=since, until=until)
    charts = rehearsal_charts(configured, definition, fetched, answer, since=since, until=until)
    return _detector_page(configured, form, answer=answer, charts=charts, rehearsed=definition)


def _changes(text: str) -> Any:
    """The form's changes to the definition: a YAML (or JSON) mapping, or nothing."""
    if not text:
        return None
    try:
        changes = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadRequestError(f"changes: not YAML ({str(exc).splitlines()[0]})", {"changes": "not YAML"}) from None
    if not isinstance(changes, dict):
        raise BadRequestError(
            "changes: expected a mapping such as  analysis: {type: threshold, above: 70}",
            {"changes": "expected a mapping"},
        )
    return changes


def _detector_page(
    definition: DetectorConfig, form: dict[str, str], *, status: int = 200, error: str | None = None, **shown: Any
) -> Any:
    with db().read() as s:
        last = s.get(DetectorStatus, definition.name)
    return render_template(
        "dashboard/detector.html", detector=definition, status=last, form=form, error=error, **shown
    ), status
