"""What the detector page draws after a rehearsal: each series of the metric (thinned to a
few thousand points, keeping each bucket's low and high so spikes stay visible), the
thresholds, and the alerts actually raised and rehearsed on it as time bands."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np

from config.schema import DetectorConfig
from detectors.lifecycle import fingerprint
from detectors.series import LabelledSeries

MAX_SERIES = 6
MAX_BUCKETS = 1200  # two points each


def rehearsal_charts(
    configured: DetectorConfig,
    rehearsed: DetectorConfig,
    fetched: list[LabelledSeries],
    answer: dict[str, Any],
    *,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    """charts.js data per series (plus `bands`), and how many alerts fell on series not drawn."""
    actual = [p["actual"] for p in answer["same"] + answer["shifted"]] + answer["removed"]
    replayed = [p["rehearsed"] for p in answer["same"] + answer["shifted"]] + answer["added"]
    start = (since - timedelta(seconds=rehearsed.window)).timestamp()
    shown, drawn = [], set()
    for series in fetched[:MAX_SERIES]:
        fp = fingerprint(rehearsed.name, dict(series.labels))
        drawn.add(fp)
        t, v = thin(series.t_s, series.v, start, until.timestamp())
        shown.append(
            {
                "title": _title(series.labels),
                "t": t,
                "v": v,
                "change_points": [],
                "thresholds": thresholds(configured, rehearsed),
                "bands": {"actual": _bands(actual, fp, until), "rehearsed": _bands(replayed, fp, until)},
            }
        )
    hidden = sum(1 for a in actual + replayed if a["fingerprint"] not in drawn)
    return {"series": shown, "series_total": len(fetched), "alerts_not_drawn": hidden}


def thin(t_s: np.ndarray, v: np.ndarray, start: float, end: float) -> tuple[list[float], list[float | None]]:
    """Points in [start, end]; past MAX_BUCKETS buckets, each bucket's lowest and highest point."""
    keep = (t_s >= start) & (t_s <= end)
    t_s, v = t_s[keep], v[keep].astype(float)
    if len(t_s) > 2 * MAX_BUCKETS:
        edges = np.linspace(0, len(t_s), MAX_BUCKETS + 1).astype(int)
        picks = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            chunk = v[lo:hi]
            if np.isnan(chunk).all():
                picks.append(lo)
                continue
            a, b = lo + int(np.nanargmin(chunk)), lo + int(np.nanargmax(chunk))
            picks.extend(sorted({a, b}))
        t_s, v = t_s[picks], v[picks]
    return [float(x) for x in t_s], [None if np.isnan(x) else float(x) for x in v]


def thresholds(configured: DetectorConfig, rehearsed: DetectorConfig) -> list[dict[str, Any]]:
    """The rehearsed bounds, and the configured ones where the rehearsal changed them."""
    lines = []
    for side in ("above", "below"):
        new, old = getattr(rehearsed.analysis, side, None), getattr(configured.analysis, side, None)
        if new is not None:
            lines.append({"label": f"rehearsed {side}", "value": new})
        if old is not None and old != new:
            lines.append({"label": f"configured {side}", "value": old})
    return lines


def _bands(alerts: list[dict[str, Any]], fp: str, until: datetime) -> list[list[float]]:
    return [
        [
            datetime.fromisoformat(a["start"]).timestamp(),
            (datetime.fromisoformat(a["end"]) if a["end"] else until).timestamp(),
        ]
        for a in alerts
        if a["fingerprint"] == fp
    ]


def _title(labels: Any) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(dict(labels).items())) or "value"
