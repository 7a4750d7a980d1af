"""How values read on the page: UTC times, short durations, compact numbers, chart data."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable

from app.alerts.models import Alert
from app.db import utcnow
from detectors.findings import format_duration, format_value


def utc(value: datetime | None) -> str:
    """A time as `2026-12-03 16:05:56Z`, or "—" when there is none."""
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "—"


def unix(value: float | None) -> str:
    """Unix seconds shown as `utc` shows a datetime."""
    return utc(datetime.fromtimestamp(value, timezone.utc)) if value is not None else "—"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long before `now` (default: the current time) as "5m ago", or "in 5m" for a future time."""
    if value is None:
        return "—"
    delta = ((now or utcnow()) - value).total_seconds()
    return f"in {format_duration(-delta)}" if delta < 0 else f"{format_duration(delta)} ago"


def duration(seconds: float | None) -> str:
    """Seconds as "250ms" under a second, else a short duration such as 2m30s; "—" for None."""
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else format_duration(seconds)


def alert_duration(alert: Alert, now: datetime | None = None) -> str:
    """How long the alert has lasted: until it resolved, or until `now` while it is open."""
    end = alert.resolved_at or now or utcnow()
    return format_duration((end - alert.started_at).total_seconds())


def number(value: float | None) -> str:
    """A compact number (97.2, 1.2e+09), or "—" for None."""
    return "—" if value is None else format_value(value)


def percent(value: float | None) -> str:
    """A fraction (0.25) as a whole percentage ("25%"), or "—" for None."""
    return "—" if value is None else f"{value * 100:.0f}%"


def compact_json(value: Any) -> str:
    """A value as one line of JSON with sorted keys; "" for an empty or missing value."""
    return json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str) if value else ""


def chart_data(evidence: dict[str, Any], *, threshold: float | None = None, title: str = "value") -> dict[str, Any]:
    """What charts.js draws, from a stored alert's evidence or a preview finding's dict.

    Evidence keeps times as unix seconds inside evidence["evidence"]; the outer dict repeats
    change points as ISO strings, which is all older rows may have.
    """
    inner = evidence.get("evidence") or {}
    t, v = inner.get("t") or [], inner.get("v") or []
    points = inner.get("change_points")
    if points is None:
        points = [datetime.fromisoformat(p).timestamp() for p in evidence.get("change_points") or []]
    lines = [{"label": name, "value": inner[name]} for name in ("above", "below") if inner.get(name) is not None]
    if not lines and threshold is not None:
        lines = [{"label": "threshold", "value": threshold}]
    return {
        "title": title,
        "t": t,
        "v": v if len(v) == len(t) else [],
        "thresholds": lines,
        "change_points": points,
        "before": _first(inner.get("before"), evidence.get("before")),
        "after": _first(inner.get("after"), evidence.get("after")),
    }


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


FILTERS: dict[str, Callable[..., str]] = {
    "v_utc": utc,
    "v_ago": ago,
    "v_duration": duration,
    "v_number": number,
    "v_percent": percent,
    "v_json": compact_json,
    "v_unix": unix,
}
