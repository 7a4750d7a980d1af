"""Links an alert carries from its sender (Alertmanager, Grafana): runbook, source, dashboard,
panel, and any annotation that is a URL. Only absolute http(s) URLs without spaces, quotes or
control characters are links; anything else (javascript:, data:, relative paths) stays text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SAFE = re.compile(r"^https?://[^\s<>\"'`\\\x00-\x1f\x7f]+$", re.IGNORECASE)
MAX_URL_CHARS = 2000
# (where in evidence, title), in the order they are shown
_KNOWN = (
    ("runbook_url", "Runbook"),
    ("generator_url", "Source"),
    ("dashboard_url", "Dashboard"),
    ("panel_url", "Panel"),
)


def safe_url(value: Any) -> str | None:
    """The value when it is an absolute http(s) URL that is safe to put in an href, else None."""
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS or not _SAFE.match(value):
        return None
    return value


def alert_links(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(title, url) for each safe link of a received alert, runbook first, no URL twice."""
    evidence = evidence or {}
    annotations = evidence.get("annotations") or {}
    if not isinstance(annotations, Mapping):
        annotations = {}
    candidates = [(title, annotations.get(key) if key == "runbook_url" else evidence.get(key)) for key, title in _KNOWN]
    candidates += [(_title(key), value) for key, value in sorted(annotations.items()) if key != "runbook_url"]
    out: list[tuple[str, str]] = []
    for title, value in candidates:
        url = safe_url(value)
        if url and all(url != u for _, u in out):
            out.append((title, url))
    return out


def _title(key: str) -> str:
    words = re.sub(r"(_url|URL|_link)$", "", key).replace("_", " ").strip()
    return (words[:1].upper() + words[1:])[:60] or "Link"
