"""What a chat notification says, independent of any chat service.

The alert and automation services build a `Notification`; `render.py` turns it into one
service's JSON. The helpers here phrase facts in plain text (no markup), so every
renderer says the same thing and only the markup differs.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

ELLIPSIS = "…"

_COLOURS = {"critical": "#D32F2F", "warning": "#F57C00", "info": "#1976D2"}
_EMOJI = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
_GOOD_COLOUR = "#2E7D32"
_GOOD_EMOJI = "✅"
# Events that report something getting better are shown in green whatever the severity.
GOOD_EVENTS = frozenset({"alert.resolved", "remediation.succeeded"})

# ANSI colour/cursor sequences and C0 controls other than tab and newline: script output
# is shown verbatim, and these render as garbage (or break JSON consumers) in chat.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class AlertItem:
    """One alert (one label set of a detector) as it should be shown.

    `change_points` are display strings (timestamps or indices); `before`/`after` are the
    series levels either side of the change; `url` links to the alert in the dashboard.
    """

    alert_id: int | str
    detector: str
    severity: str
    state: str
    labels: Mapping[str, str]
    started_at: datetime
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    change_points: Sequence[str] = ()
    before: float | None = None
    after: float | None = None
    url: str | None = None
    links: Sequence[tuple[str, str]] = ()  # (title, url) the sender gave: runbook, source, dashboard


@dataclass(frozen=True)
class RemediationInfo:
    """A remediation run (or its approval request) attached to a notification."""

    name: str
    version: int | str
    outcome: str
    duration_s: float | None = None
    output_tail: str = ""
    execution_id: int | str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Notification:
    """One message to send: an event about a group of alerts of one detector.

    `created_at` is when the event happened (UTC-aware); renderers use it as "now".
    """

    event: str
    title: str
    severity: str
    created_at: datetime
    alerts: Sequence[AlertItem] = ()
    remediation: RemediationInfo | None = None


def severity_colour(severity: str) -> str:
    """Return the '#RRGGBB' colour for a severity (unknown severities look like info)."""
    return _COLOURS.get(severity, _COLOURS["info"])


def severity_emoji(severity: str) -> str:
    """Return the emoji that prefixes a message of this severity."""
    return _EMOJI.get(severity, _EMOJI["info"])


def colour_of(n: Notification) -> str:
    """Return the accent colour of a notification: green for good news, else its severity's."""
    return _GOOD_COLOUR if n.event in GOOD_EVENTS else severity_colour(n.severity)


def emoji_of(n: Notification) -> str:
    """Return the emoji of a notification: a check mark for good news, else its severity's."""
    return _GOOD_EMOJI if n.event in GOOD_EVENTS else severity_emoji(n.severity)


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fits(text: str, limit: int) -> bool:
    if limit < 1:
        raise ValueError(f"truncate limit must be at least 1, got {limit}")
    # Each code point is one or two UTF-16 units, so the length alone often decides; that
    # keeps this cheap for a multi-megabyte script output.
    return len(text) <= limit // 2 or (len(text) <= limit and _utf16_units(text) <= limit)


def _prefix(text: str, units: int) -> str:
    """Return the longest prefix of `text` within `units` UTF-16 units, never half a pair."""
    # The first `units` code points hold at least `units` units: slice before encoding.
    raw = text[:units].encode("utf-16-le")[: units * 2]
    if len(raw) >= 2 and 0xD8 <= raw[-1] <= 0xDB:  # a lone high surrogate (little-endian)
        raw = raw[:-2]
    return raw.decode("utf-16-le")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with '…' when anything was cut.

    Lengths are counted in UTF-16 code units, as JavaScript does (Slack, Discord and Teams
    count that way); it is never less than Python's len(), so the result fits either count.
    The cut never splits a surrogate pair, so the result is always valid text.

    Raises:
        ValueError: limit is less than 1.
    """
    if _fits(text, limit):
        return text
    return _prefix(text, limit - 1).rstrip() + ELLIPSIS


def tail(text: str, limit: int) -> str:
    """Keep the end of `text` within `limit` characters, starting with '…' when cut.

    Script output is most telling at its end (the error), so that is what survives.

    Raises:
        ValueError: limit is less than 1.
    """
    if _fits(text, limit):
        return text
    # Reversed, the end becomes a prefix; the last `limit` code points are all it can keep.
    return ELLIPSIS + _prefix(text[-limit:][::-1], limit - 1)[::-1].lstrip()


def clean_output(text: str) -> str:
    """Strip terminal escape sequences and control characters from script output."""
    return _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


def output_end(r: RemediationInfo | None, limit: int, escape: Callable[[str], str] = str) -> str:
    """Return the cleaned end of a remediation's output within `limit` characters.

    `escape` (a service's markup escaping) runs before the cut, so the result still fits.
    """
    raw = r.output_tail if r else ""
    # Only the end is shown: cleaning megabytes of output to keep 3,000 characters is waste.
    kept = raw[-4 * limit :]
    text = escape(clean_output(kept)).strip("\n")
    return tail(ELLIPSIS + text if len(kept) < len(raw) else text, limit)


def as_data(value: Any) -> Any:
    """Turn messages (and what they hold) into JSON-ready data: datetimes as ISO 8601 UTC,
    NaN and infinities as None (JSON has no such numbers), mappings and sequences copied."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): as_data(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [as_data(v) for v in value]
    return value


def number(value: float | None) -> str:
    """Format a metric value briefly ('0.934', '1.23e+06'); '-' for no value."""
    return "-" if value is None else f"{value:.4g}"


def utc(at: datetime) -> datetime:
    """Return `at` in UTC; a naive value is taken as UTC already (Vigil stores UTC)."""
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


def timestamp(at: datetime) -> str:
    """Format a datetime as '2024-05-01 12:03:07 UTC' (naive values are taken as UTC)."""
    return utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """Format a duration: '850ms', '12.3s', '4m 05s', '2h 03m', '3d 4h'."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


def label_text(labels: Mapping[str, str]) -> str:
    """Format labels as 'a=1, b=2', sorted by name so grouped alerts line up."""
    return ", ".join(f"{key}={labels[key]}" for key in sorted(labels))


def evidence(alert: AlertItem) -> str:
    """Say why the alert fired: value vs threshold, or the level change at a change point."""
    parts: list[str] = []
    if alert.value is not None or alert.threshold is not None:
        parts.append(f"value {number(alert.value)}")
        if alert.threshold is not None:
            parts[-1] += f" vs threshold {number(alert.threshold)}"
    if alert.before is not None or alert.after is not None:
        parts.append(f"level {number(alert.before)} → {number(alert.after)}")
    if alert.change_points:
        more = len(alert.change_points) - 3
        points = ", ".join(alert.change_points[:3]) + (f" (+{more} more)" if more > 0 else "")
        parts.append(f"change point at {points}")
    return "; ".join(parts)


def since(alert: AlertItem, now: datetime) -> str:
    """Say when the alert started and for how long: '2024-05-01 12:03:07 UTC (for 5m 00s)'."""
    elapsed = (utc(now) - utc(alert.started_at)).total_seconds()
    return timestamp(alert.started_at) + (f" (for {duration(elapsed)})" if elapsed >= 0 else "")


def alert_facts(alert: AlertItem, now: datetime) -> list[tuple[str, str]]:
    """Return (name, value) facts about one alert, in display order, without empty ones."""
    facts = [
        ("Evidence", evidence(alert)),
        ("Started", since(alert, now)),
        ("Labels", label_text(alert.labels)),
        ("State", alert.state),
    ]
    return [(name, value) for name, value in facts if value]


def remediation_facts(r: RemediationInfo) -> list[tuple[str, str]]:
    """Return (name, value) facts about a remediation run, without empty ones."""
    facts = [
        ("Remediation", f"{r.name} v{r.version}"),
        ("Outcome", r.outcome),
        ("Duration", duration(r.duration_s) if r.duration_s is not None else ""),
        ("Execution", f"#{r.execution_id}" if r.execution_id is not None else ""),
    ]
    return [(name, value) for name, value in facts if value]


def href(url: str | None) -> str | None:
    """Return the URL if it is absolute http(s), else None.

    Slack buttons, Discord embeds and Teams actions reject a whole message over one
    relative link, so a link that cannot work is dropped rather than sent.
    """
    if not url or len(url) > 2000 or any(c in url for c in ' <>|"\n'):
        return None
    return url if url.startswith(("https://", "http://")) else None


def links(n: Notification) -> list[tuple[str, str]]:
    """Return (text, url) links for buttons: the remediation run, then the first alert."""
    out: list[tuple[str, str]] = []
    if n.remediation and href(n.remediation.url):
        label = "Review approval" if n.event == "approval.requested" else "Open execution"
        out.append((label, n.remediation.url or ""))
    first = next((a.url for a in n.alerts if href(a.url)), None)
    if first:
        out.append(("Open alert", first))
    return out


def alert_links(alert: AlertItem, limit: int = 5) -> list[tuple[str, str]]:
    """The alert's own links (runbook, source, dashboard...) that are absolute http(s), at most `limit`."""
    return [(title, url) for title, url in alert.links if href(url)][:limit]


def summary(n: Notification) -> str:
    """One plain line for notification previews: '🔴 Firing: api-latency (3 alerts)'.

    The title already says how many alerts a group holds (notify.service writes it), so
    this adds nothing to it: adding the count here printed it twice on every channel.
    """
    return f"{emoji_of(n)} {n.title}"


def suspects_text(suspects: Sequence[Mapping[str, Any]], limit: int = 3) -> str:
    """Plain lines naming a diagnosis' first suspects, for the alert.diagnosed message:
    '1. pool_waiting{instance=db-1}: up 5m 00s before the alert (8.1 sigma)'."""
    lines = (
        [f"Top {min(limit, len(suspects))} suspects (what changed with the alert):"]
        if suspects
        else ["No signal changed with the alert."]
    )
    for i, s in enumerate(suspects[:limit], 1):
        labels = dict(s.get("labels") or {})
        name = labels.pop("__name__", "")
        lead = float(s.get("lead_s") or 0.0)
        when = f"{duration(abs(lead))} {'before' if lead >= 0 else 'after'} the alert"
        sigma = s.get("effect_sigma")
        size = f" ({number(sigma)} sigma)" if isinstance(sigma, (int, float)) else ""
        lines.append(f"{i}. {name}{{{label_text(labels)}}}: {s.get('direction', 'moved')} {when}{size}")
    return "\n".join(lines)
