"""Query-string filters of the dashboard's lists, parsed strictly: a bad value is a 400
that says what was wrong, never a 500 and never silently ignored."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import abort

from app.alerts.service import AlertQuery
from app.web import utc_datetime

STATE_CHOICES = ("firing", "pending", "resolved", "acked", "open")
SEVERITIES = ("info", "warning", "critical")
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
PAGE_SIZE = 50
_MATCHER = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)(!=|=)(.*)$")
_MAX_TEXT = 200


def bad(message: str) -> None:
    abort(400, message)


def text(args: Mapping[str, str], key: str) -> str:
    value = args.get(key, "").strip()
    if len(value) > _MAX_TEXT:
        bad(f"{key} is too long ({len(value)} characters; at most {_MAX_TEXT})")
    return value


def choice(args: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    value = text(args, key)
    if value and value not in allowed:
        bad(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def positive_int(value: str | None, key: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not 0 < int(value) < 2**62:
        bad(f"{key} must be a positive whole number; got {value[:40]!r}")
    return int(value)


def when(args: Mapping[str, str], key: str) -> datetime | None:
    value = text(args, key)
    if not value:
        return None
    try:
        return utc_datetime(value)
    except ValueError as exc:
        bad(f"{key}: {exc}")
    return None  # unreachable: bad() raised


def matchers(value: str) -> tuple[tuple[str, str, str], ...]:
    """`team=db host!=web-1` (space or comma separated) into (label, op, value) triples."""
    found = []
    for part in re.split(r"[\s,]+", value.strip()):
        if not part:
            continue
        match = _MATCHER.match(part)
        if not match:
            bad(f"labels: expected label=value or label!=value, got {part!r}")
            continue
        found.append((match.group(1), match.group(2), match.group(3)))
    return tuple(found)


@dataclass(frozen=True)
class AlertFilters:
    """What the alerts page shows; `args()` turns it back into a shareable URL."""

    state: str = ""
    severity: str = ""
    detector: str = ""
    labels: str = ""
    range: str = ""
    since: str = ""
    until: str = ""
    cursor: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> "AlertFilters":
        since, until = when(args, "since"), when(args, "until")
        if since and until and since >= until:
            bad("since must be earlier than until")
        labels = text(args, "labels")
        matchers(labels)
        return cls(state=choice(args, "state", STATE_CHOICES), severity=choice(args, "severity", SEVERITIES),
                   detector=text(args, "detector"), labels=labels, range=choice(args, "range", tuple(RANGES)),
                   since=text(args, "since"), until=text(args, "until"),
                   cursor=positive_int(args.get("cursor"), "cursor"))

    def query(self, now: datetime, limit: int = PAGE_SIZE) -> AlertQuery:
        states: tuple[str, ...] = {"": (), "acked": ("pending", "firing"), "open": ("pending", "firing")}.get(
            self.state, (self.state,))
        since = utc_datetime(self.since) if self.since else None
        if self.range:
            since = max(since, now - timedelta(seconds=RANGES[self.range])) if since \
                else now - timedelta(seconds=RANGES[self.range])
        return AlertQuery(states=states, detector=self.detector or None, severity=self.severity or None,
                          matchers=matchers(self.labels), since=since,
                          until=utc_datetime(self.until) if self.until else None,
                          acked=True if self.state == "acked" else None, cursor=self.cursor, limit=limit)

    def args(self, **changes: Any) -> dict[str, Any]:
        """Non-empty filters as query arguments, for url_for."""
        merged = asdict(replace(self, **changes))
        return {k: v for k, v in merged.items() if v not in ("", None)}

    @property
    def active(self) -> bool:
        return bool(self.args(cursor=None))
