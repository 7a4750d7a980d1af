"""A rehearsal's (or shadow record's) decisions as a timeline: one row per would-run action and
per skip guard, each counting its decisions in equal time bins over the period (what the
binding page draws; counting, not drawing, 100,000 decisions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from app.rehearsal.replay import Rehearsed, guard

BINS = 120
ROWS = {  # the order rows are shown in, and what each says
    "run": "would run",
    "queue": "would queue (concurrency)",
    "approve": "would ask for approval",
    "dry_run": "dry run",
    "shadow": "shadow: would run",
    "paused": "skipped: paused",
    "silenced": "skipped: silenced",
    "breaker": "skipped: breaker open",
    "cooldown": "skipped: cooldown",
    "rate_limit": "skipped: rate limit",
    "already_active": "skipped: already queued or running",
    "concurrency": "skipped: concurrency",
    "other": "skipped: other reason",
}
LEVELS = 4  # shades of a mark, by its count against the busiest bin of its row


def timeline(decisions: Iterable[Rehearsed], *, since: datetime, until: datetime, bins: int = BINS) -> dict[str, Any]:
    """Counts per row and bin; each row lists only its non-empty bins (`i`, `n`, `level`, times)."""
    width_s = (until - since).total_seconds() / bins
    counts: dict[str, list[int]] = {}
    names: dict[str, str] = {}  # a skip's guard by the reason's words before its numbers
    for d in decisions:
        if d.action == "skip":
            head = d.reason.split(" (", 1)[0]
            key = names.get(head) or names.setdefault(head, guard(head))
        else:
            key = d.action
        i = min(bins - 1, max(0, int((d.at - since).total_seconds() // width_s)))
        counts.setdefault(key, [0] * bins)[i] += 1
    rows = [_row(key, counts[key], since, width_s) for key in sorted(counts, key=_order)]
    return {
        "since": since,
        "until": until,
        "bins": bins,
        "bin_s": width_s,
        "rows": rows,
        "ticks": _ticks(since, until, bins),
    }


def _order(key: str) -> int:
    order = list(ROWS)
    return order.index(key) if key in ROWS else len(order)


def _row(key: str, cells: list[int], since: datetime, width_s: float) -> dict[str, Any]:
    top = max(cells)
    marks = [
        {
            "i": i,
            "n": n,
            "level": max(1, -(-n * LEVELS // top)),
            "start": since + timedelta(seconds=i * width_s),
            "end": since + timedelta(seconds=(i + 1) * width_s),
        }
        for i, n in enumerate(cells)
        if n
    ]
    return {
        "key": key,
        "label": ROWS.get(key, key),
        "skip": key not in ("run", "queue", "approve", "dry_run", "shadow"),
        "total": sum(cells),
        "busiest": top,
        "marks": marks,
    }


def _ticks(since: datetime, until: datetime, bins: int, count: int = 5) -> list[dict[str, Any]]:
    """Evenly spaced labels under the rows: their bin position and time."""
    span = until - since
    return [{"x": bins * k / (count - 1), "at": since + span * k / (count - 1)} for k in range(count)]
