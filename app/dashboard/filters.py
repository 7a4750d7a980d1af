"""Query-string filters of the dashboard's lists, parsed strictly: a bad value is a 400
that says what was wrong, never a 500 and never silently ignored.

The alerts page takes the API's parameters (`label=` repeated, with = != =~ !~, `q=`,
`state=`, `acked=`, `detector=`, `severity=`, `since=`, `until=`, `cursor=`), plus `range=`
and the older `labels=` (several matchers in one value) as an alias of `label=`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import abort

from app.alerts import service as alerts
from app.alerts.service import AlertQuery
from app.web import utc_datetime
from config.vocabulary import OPEN_ALERT_STATES, SEVERITIES, AlertState

STATE_CHOICES = ("firing", "pending", "resolved", "acked", "open")
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
PAGE_SIZE = 50
_MAX_TEXT = 200
_MAX_MATCHERS = 20
API_STATES = tuple(s.value for s in AlertState)


def bad(message: str) -> None:
    """Stop the request with a 400 that says what was wrong."""
    abort(400, message)


def text(args: Mapping[str, str], key: str) -> str:
    """The stripped value of query argument `key` ("" when absent); a 400 when it is too long."""
    value = args.get(key, "").strip()
    if len(value) > _MAX_TEXT:
        bad(f"{key} is too long ({len(value)} characters; at most {_MAX_TEXT})")
    return value


def choice(args: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    """Query argument `key`, which must be one of `allowed` or empty (else a 400 listing them)."""
    value = text(args, key)
    if value and value not in allowed:
        bad(f"{key} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def positive_int(value: str | None, key: str) -> int | None:
    """`value` as a positive whole number, None when empty; a 400 naming `key` otherwise."""
    if value is None or value == "":
        return None
    if not value.isdigit() or not 0 < int(value) < 2**62:
        bad(f"{key} must be a positive whole number; got {value[:40]!r}")
    return int(value)


def when(args: Mapping[str, str], key: str) -> datetime | None:
    """Query argument `key` as a UTC datetime (ISO-8601), None when empty; a 400 naming `key` otherwise."""
    value = text(args, key)
    if not value:
        return None
    try:
        return utc_datetime(value)
    except ValueError as exc:
        bad(f"{key}: {exc}")
    return None  # unreachable: bad() raised


def matchers(values: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """`team=db`, `host!=web-1`, `host=~web-.*` (alerts.service.matcher) as (label, op, value)."""
    found = []
    for value in values:
        try:
            found.append(alerts.matcher(value))
        except ValueError as exc:
            bad(f"label: {exc}")
    return tuple(found)


def label_args(args: Mapping[str, str]) -> tuple[str, ...]:
    """Every `label=` value, then the matchers of the `labels=` alias (space separated)."""
    values = list(args.getlist("label") if hasattr(args, "getlist") else filter(None, [args.get("label")]))
    values += alerts.split_matchers(text(args, "labels") if len(args.get("labels", "")) <= 2000 else "")
    values = [v.strip() for v in values if v.strip()]
    if len(values) > _MAX_MATCHERS or any(len(v) > 1100 for v in values):
        bad(f"label: at most {_MAX_MATCHERS} matchers of at most 1100 characters each")
    return tuple(values)


def search_terms(args: Mapping[str, str]) -> str:
    """The `q` argument, checked as the alerts search will parse it; a 400 saying why when it cannot be."""
    value = args.get("q", "").strip()
    if len(value) > 1000:
        bad(f"q is too long ({len(value)} characters; at most 1000)")
    try:
        alerts.terms(value)
    except ValueError as exc:
        bad(f"q: {exc}")
    return value


def _state(args: Mapping[str, str]) -> str:
    """One of the page's choices, or the API's comma list of states."""
    value = text(args, "state")
    if value in STATE_CHOICES or not value:
        return value
    parts = value.split(",")
    if all(p in API_STATES for p in parts):
        return ",".join(parts)
    bad(
        f"state must be one of {', '.join(STATE_CHOICES)} or a comma list of {', '.join(API_STATES)}; "
        f"got {value[:60]!r}"
    )
    return ""


@dataclass(frozen=True)
class AlertFilters:
    """What the alerts page shows; `args()` turns it back into a shareable URL."""

    state: str = ""
    severity: str = ""
    detector: str = ""
    label: tuple[str, ...] = ()
    q: str = ""
    acked: str = ""
    range: str = ""
    since: str = ""
    until: str = ""
    cursor: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, str]) -> "AlertFilters":
        since, until = when(args, "since"), when(args, "until")
        if since and until and since >= until:
            bad("since must be earlier than until")
        label = label_args(args)
        matchers(label)
        return cls(
            state=_state(args),
            severity=choice(args, "severity", SEVERITIES),
            detector=text(args, "detector"),
            label=label,
            q=search_terms(args),
            acked=choice(args, "acked", ("true", "false")),
            range=choice(args, "range", tuple(RANGES)),
            since=text(args, "since"),
            until=text(args, "until"),
            cursor=positive_int(args.get("cursor"), "cursor"),
        )

    def query(self, now: datetime, limit: int = PAGE_SIZE) -> AlertQuery:
        states: tuple[str, ...] = {"": (), "acked": OPEN_ALERT_STATES, "open": OPEN_ALERT_STATES}.get(
            self.state, tuple(self.state.split(","))
        )
        acked = True if self.state == "acked" or self.acked == "true" else False if self.acked == "false" else None
        since = utc_datetime(self.since) if self.since else None
        if self.range:
            since = (
                max(since, now - timedelta(seconds=RANGES[self.range]))
                if since
                else now - timedelta(seconds=RANGES[self.range])
            )
        return AlertQuery(
            states=states,
            detector=self.detector or None,
            severity=self.severity or None,
            matchers=matchers(self.label),
            text=alerts.terms(self.q),
            since=since,
            until=utc_datetime(self.until) if self.until else None,
            acked=acked,
            cursor=self.cursor,
            limit=limit,
        )

    def args(self, **changes: Any) -> dict[str, Any]:
        """Non-empty filters as query arguments, for url_for."""
        merged = asdict(replace(self, **changes))
        merged["label"] = list(merged["label"])
        return {k: v for k, v in merged.items() if v not in ("", None, [])}

    @property
    def labels_text(self) -> str:
        """The label matchers as the filter form's one text field shows them."""
        return " ".join(self.label)

    @property
    def active(self) -> bool:
        return bool(self.args(cursor=None))
