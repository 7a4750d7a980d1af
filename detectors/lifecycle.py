"""The alert state machine, shared by the database-backed app and the backtest.

An alert is identified by its fingerprint (detector + series labels) and moves

    (none) --pending--> pending --firing--> firing --resolved--> resolved
    (none) --firing---> firing                 (for = 0, or a change point)
    pending --ok--> resolved, event 'cancelled'  (it never fired: nobody was told)

`step` is a pure function: the app stores the returned state on the alert row and
writes the returned event (if any) as an event row; 'resolved' (from either event)
closes the alert, and the next breach opens a new one. Notifications go out on
'firing' and 'resolved' only; 'pending' and 'cancelled' are recorded, not sent.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from config.schema import DetectorConfig
from detectors.errors import AnalysisError
from detectors.findings import STATES, Finding
from detectors.pipeline import run
from detectors.sources.base import Source

OPEN_STATES = ("pending", "firing")


def fingerprint(detector: str, labels: dict[str, str]) -> str:
    """sha256 hex of the detector name and the sorted labels (stable across processes)."""
    canonical = json.dumps([detector, sorted(labels.items())], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def step(previous: str | None, finding_state: str) -> tuple[str | None, str | None]:
    """The next alert state and the event of the transition, if any.

    Args:
        previous: the open alert's state ('pending' or 'firing'), or None (also
            'resolved') when no alert is open for this fingerprint.
        finding_state: the new Finding's state: 'ok', 'pending' or 'firing'.

    Returns:
        (state, event): state is None when no alert is (or stays) open, 'pending',
        'firing', or 'resolved' when this step closes the alert; event is None or one
        of 'pending', 'firing', 'resolved', 'cancelled'.

    Raises:
        AnalysisError: an unknown finding state or previous state.
    """
    if finding_state not in STATES:
        raise AnalysisError(f"unknown finding state {finding_state!r}, expected one of {', '.join(STATES)}")
    if previous not in (None, "resolved", *OPEN_STATES):
        raise AnalysisError(f"unknown alert state {previous!r}, expected None, pending, firing or resolved")
    current = previous if previous in OPEN_STATES else None
    if finding_state == "ok":
        if current is None:
            return None, None
        return "resolved", ("resolved" if current == "firing" else "cancelled")
    if current == "firing" or current == finding_state:
        return current, None  # already firing: a 'pending' finding does not demote it
    return finding_state, finding_state


def replay(definition: DetectorConfig, source: Source, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Run a detector over past data as if time were passing; the alerts it would have raised.

    Ticks `now` every `interval` from the later of `start` and the source's first point
    up to the earlier of `end` and the source's last point, calling `pipeline.run` and
    `step` per fingerprint. The first ticks see a partial window, exactly like a live job
    on a metric with little history: the analysis waits (says 'warming up') until it has
    what it needs, so nothing after the warm-up is left unjudged.
    A series missing from a tick counts as ok; a tick whose fetch fails changes nothing.

    Args:
        definition: the detector.
        source: usually a CsvReplay (its `time_range()` is used when present).
        start, end: the period to replay (UTC-aware).

    Returns:
        Alerts that reached 'firing', oldest first, as dicts with keys fingerprint,
        labels, start (when it fired), end (when it resolved, None if still open),
        kind, value (at firing), change_points (ISO times), message.
    """
    interval = timedelta(seconds=definition.interval)
    first, last = _time_range(source)
    now = max(start, first or start)
    end = min(end, last or end)  # past the data every series looks empty and would "resolve"
    states: dict[str, str] = {}
    alerts: dict[str, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []
    # Hashing labels for every finding of every tick would cost about as much as analysing the window.
    fingerprints: dict[tuple[tuple[str, str], ...], str] = {}
    while now <= end:
        result = run(definition, source, now=now)
        if result.error is None:
            seen = {_fingerprint(definition.name, f.labels, fingerprints): f for f in result.findings}
            for fp in set(states) | set(seen):
                finding = seen.get(fp)
                state, event = step(states.get(fp), finding.state if finding else "ok")
                _apply(fp, state, event, finding, now, states, alerts, done)
        now += interval
    return sorted(done + list(alerts.values()), key=lambda a: (a["start"], a["fingerprint"]))


def _apply(
    fp: str,
    state: str | None,
    event: str | None,
    finding: Finding | None,
    now: datetime,
    states: dict[str, str],
    alerts: dict[str, dict[str, Any]],
    done: list[dict[str, Any]],
) -> None:
    if state in OPEN_STATES:
        states[fp] = state
    else:
        states.pop(fp, None)
    if event == "firing" and finding is not None:
        alerts[fp] = {
            "fingerprint": fp,
            "labels": dict(finding.labels),
            "start": now.isoformat(),
            "end": None,
            "kind": finding.kind,
            "value": finding.to_dict()["value"],
            "change_points": [t.isoformat() for t in finding.change_points],
            "message": finding.message,
        }
    elif event == "resolved" and fp in alerts:
        alert = alerts.pop(fp)
        alert["end"] = now.isoformat()
        done.append(alert)


def _fingerprint(detector: str, labels: dict[str, str], cache: dict[tuple[tuple[str, str], ...], str]) -> str:
    key = tuple(labels.items())  # insertion order only splits the cache, never the fingerprint
    found = cache.get(key)
    if found is None:
        found = cache[key] = fingerprint(detector, labels)
    return found


def _time_range(source: Source) -> tuple[datetime | None, datetime | None]:
    time_range = getattr(source, "time_range", None)
    found = time_range() if time_range is not None else None
    return (found[0], found[1]) if found else (None, None)
