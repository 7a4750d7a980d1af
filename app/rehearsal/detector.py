"""Detector rehearsal on real history: the metric's past fetched once (the Prometheus client
splits long ranges into query_range chunks), replayed by detectors.lifecycle.replay, and
compared with the alerts the detector actually raised in the period."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.models import Alert
from app.errors import BadRequestError, NotFoundError
from app.rehearsal import service, spec
from config.loader import field_errors
from config.schema import Config, DetectorConfig
from detectors import lifecycle
from detectors.series import LabelledSeries
from detectors.sources import Source, build_source

_ISO = datetime.fromisoformat
MAX_PERIOD = timedelta(days=90)  # a longer history is many query_range chunks for one request


class FrameSource:
    """Serves slices of series fetched once, so each replay tick costs no request."""

    def __init__(self, name: str, series: list[LabelledSeries]) -> None:
        self.name, self._series = name, series

    def fetch(self, query: str, *, start: datetime, end: datetime, step_s: float) -> list[LabelledSeries]:
        out = []
        for s in self._series:
            lo = int(np.searchsorted(s.t_s, start.timestamp(), side="left"))
            hi = int(np.searchsorted(s.t_s, end.timestamp(), side="right"))
            out.append(LabelledSeries(s.labels, s.t_s[lo:hi], s.v[lo:hi]))
        return out

    def time_range(self) -> tuple[datetime, datetime] | None:
        firsts = [s.t_s[0] for s in self._series if len(s.t_s)]
        lasts = [s.t_s[-1] for s in self._series if len(s.t_s)]
        if not firsts:
            return None
        return _utc(min(firsts)), _utc(max(lasts))


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(float(t_s), tz=timezone.utc)


def period(since: Any, until: Any, now: datetime) -> tuple[datetime, datetime]:
    """`since`/`until` as the API and `vigil backtest` take them (ISO-8601 or a duration before
    now; default the last 30 days), at most MAX_PERIOD long."""
    begin, end = service.period(spec.moment(since, "since", now), spec.moment(until, "until", now), now)
    if end - begin > MAX_PERIOD:
        raise BadRequestError("the period is longer than 90 days", {"since": "at most 90 days before until"})
    return begin, end


def definition(config: Config, name: str, changes: Any) -> DetectorConfig:
    """The configured detector with the body's changes (e.g. a new analysis) merged in."""
    found = config.detector(name)
    if found is None:
        raise NotFoundError(f"detector {name!r} not found")
    if changes is None:
        return found
    if not isinstance(changes, dict):
        raise BadRequestError("definition must be an object", {"definition": "expected an object"})
    try:
        return DetectorConfig.model_validate({**found.model_dump(by_alias=True), **changes, "name": name})
    except ValidationError as exc:
        raise BadRequestError("invalid detector definition", field_errors(exc, "definition")) from None


def rehearse(
    session: Session,
    config: Config,
    detector: DetectorConfig,
    *,
    since: datetime,
    until: datetime,
    source: Source | None = None,
) -> dict[str, Any]:
    """The detector replayed over its metric's history in [since, until), compared with the alerts
    actually raised (see compare); `source` replaces the configured one (tests)."""
    fetched = history(config, detector, since=since, until=until, source=source)
    return replay_fetched(session, detector, fetched, since=since, until=until)


def history(
    config: Config, detector: DetectorConfig, *, since: datetime, until: datetime, source: Source | None = None
) -> list[LabelledSeries]:
    """The metric over the period plus one window before it (what the first tick looks back on)."""
    source = source or build_source(config.source(detector.source))
    step = detector.step or detector.interval
    return source.fetch(detector.query, start=since - timedelta(seconds=detector.window), end=until, step_s=step)


def replay_fetched(
    session: Session, detector: DetectorConfig, fetched: list[LabelledSeries], *, since: datetime, until: datetime
) -> dict[str, Any]:
    """Replay over series already fetched, compared with the alerts actually raised."""
    rehearsed = lifecycle.replay(detector, FrameSource(detector.source, fetched), start=since, end=until)
    return {
        "detector": detector.name,
        "since": since.isoformat(),
        "until": until.isoformat(),
        **compare(rehearsed, actual(session, detector.name, since, until), tolerance_s=detector.interval),
    }


def actual(session: Session, name: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The detector's alerts that fired in [since, until), in firing order, as compare reads them."""
    a = Alert.__table__.c
    rows = session.execute(
        select(a.id, a.fingerprint, a.labels, a.fired_at, a.resolved_at)
        .where(a.detector == name, a.fired_at >= since, a.fired_at < until)
        .order_by(a.fired_at, a.id)
    )
    return [
        {
            "id": r.id,
            "fingerprint": r.fingerprint,
            "labels": r.labels,
            "start": r.fired_at.isoformat(),
            "end": r.resolved_at.isoformat() if r.resolved_at else None,
        }
        for r in rows
    ]


def compare(rehearsed: list[dict[str, Any]], actual: list[dict[str, Any]], *, tolerance_s: float) -> dict[str, Any]:
    """Pair alerts of the same fingerprint whose open intervals overlap: `same` when they fire within
    one interval of each other, else `shifted`; the rest are `added` (rehearsal only) or `removed`."""
    unmatched = list(actual)
    same: list[dict[str, Any]] = []
    shifted: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for r in rehearsed:
        match = next((a for a in unmatched if a["fingerprint"] == r["fingerprint"] and _overlap(r, a)), None)
        if match is None:
            added.append(r)
            continue
        unmatched.remove(match)
        shift = (_ISO(r["start"]) - _ISO(match["start"])).total_seconds()
        pair = {"fingerprint": r["fingerprint"], "rehearsed": r, "actual": match, "shift_s": shift}
        (same if abs(shift) <= tolerance_s else shifted).append(pair)
    return {
        "summary": {
            "rehearsed": len(rehearsed),
            "actual": len(actual),
            "same": len(same),
            "shifted": len(shifted),
            "added": len(added),
            "removed": len(unmatched),
        },
        "same": same,
        "shifted": shifted,
        "added": added,
        "removed": unmatched,
    }


def _overlap(r: dict[str, Any], a: dict[str, Any]) -> bool:
    far = "9999-12-31T00:00:00+00:00"
    return _ISO(r["start"]) <= _ISO(a["end"] or far) and _ISO(a["start"]) <= _ISO(r["end"] or far)
