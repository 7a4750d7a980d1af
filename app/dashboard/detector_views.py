"""Detectors: configuration and last run, and a live preview the page fetches as JSON."""
from __future__ import annotations

import threading
from typing import Any

from flask import current_app, jsonify, render_template
from sqlalchemy import select

from app.alerts.models import DetectorStatus
from app.dashboard.blueprint import bp
from app.dashboard.display import chart_data
from app.db import utcnow
from app.errors import NotFoundError
from app.web import cfg, db
from config.schema import DetectorConfig
from detectors import pipeline
from detectors.sources import Source, build_source

MAX_PREVIEW_SERIES = 6
_sources_lock = threading.Lock()


@bp.get("/detectors")
def detectors() -> Any:
    with db().read() as s:
        statuses = {row.name: row for row in s.scalars(select(DetectorStatus))}
    return render_template("dashboard/detectors.html", detectors=cfg().detectors, statuses=statuses)


@bp.get("/detectors/<name>/preview.json")
def preview_json(name: str) -> Any:
    """Fetch and analyse now, as the API's preview does; nothing is stored, no alert is raised."""
    definition = _definition(name)
    result = pipeline.run(definition, _source(definition.source), now=utcnow())
    findings = [{"labels": f.labels, "state": f.state, "message": f.message,
                 "chart": chart_data(f.to_dict(), threshold=f.threshold, title=name)}
                for f in result.findings[:MAX_PREVIEW_SERIES]]
    return jsonify({"detector": name, "error": result.error, "series": result.series_count,
                    "points": result.points, "duration_s": result.duration_s, "findings": findings})


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
