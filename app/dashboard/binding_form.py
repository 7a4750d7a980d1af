"""The binding form's text to the payload POST /api/v1/bindings takes, and a binding back to text.

Only the shape changes here (lines of name=value to a dict, JSON text to objects, checkboxes to
booleans); whether the values are acceptable is decided by bindings.parse, the code the API
runs, so the dashboard cannot keep what the API refuses.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from app.automation.bindings import SEVERITIES
from app.automation.models import Binding

MODES = ("approve", "auto", "shadow", "dry_run")
KINDS = ("remediation", "diagnostic")
# Inputs passed on as typed: the model converts "5" and "10m" and names what it refuses.
PLAIN = (
    "name",
    "remediation",
    "mode",
    "kind",
    "cooldown",
    "rate_limit",
    "rate_window",
    "breaker_threshold",
    "approval_timeout",
    "queue",
)
FIELDS = (*PLAIN, "detector", "matchers", "severities", "params", "when_suspect", "enabled")


def payload(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(payload, errors) from the posted form; an empty optional input is left to its default."""
    values: dict[str, Any] = {k: form.get(k, "").strip() for k in PLAIN if form.get(k, "").strip()}
    errors: dict[str, str] = {}
    if form.get("detector", "").strip():
        values["detector"] = form["detector"].strip()
    values["severities"] = [s for s in form.getlist("severities")]
    values["enabled"] = form.get("enabled") == "on"
    try:
        values["matchers"] = _pairs(form.get("matchers", ""))
    except ValueError as exc:
        errors["matchers"] = str(exc)
    for key in ("params", "when_suspect"):
        text = form.get(key, "").strip()
        if text:
            try:
                values[key] = json.loads(text)
            except ValueError as exc:
                errors[key] = f"not valid JSON: {exc}"
    return values, errors


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"line {number}: expected label=value (or label=~regex), got {line.strip()[:60]!r}")
        pairs[name.strip()] = value.strip()
    return pairs


def values(b: Binding) -> dict[str, Any]:
    """A stored binding as the form's text, for the edit form."""
    return {
        "name": b.name,
        "remediation": b.remediation,
        "mode": b.mode,
        "kind": b.kind,
        "detector": b.detector or "",
        "matchers": "\n".join(f"{k}={v}" for k, v in b.matchers.items()),
        "severities": list(b.severities),
        "params": json.dumps(b.params, indent=2) if b.params else "",
        "when_suspect": json.dumps(b.when_suspect) if b.when_suspect else "",
        "cooldown": seconds(b.cooldown_s),
        "rate_limit": str(b.rate_limit),
        "rate_window": seconds(b.rate_window_s),
        "breaker_threshold": str(b.breaker_threshold),
        "approval_timeout": seconds(b.approval_timeout_s),
        "queue": b.queue,
        "enabled": b.enabled,
    }


def posted(form: Any) -> dict[str, Any]:
    """What was posted, in values()' shape, to show it again with its errors."""
    shown: dict[str, Any] = {k: form.get(k, "") for k in FIELDS}
    shown["severities"], shown["enabled"] = form.getlist("severities"), form.get("enabled") == "on"
    return shown


def defaults(remediation: str = "") -> dict[str, Any]:
    """A new binding's form: the model's own defaults."""
    return {
        "name": "",
        "remediation": remediation,
        "mode": "approve",
        "kind": "remediation",
        "detector": "",
        "matchers": "",
        "severities": [],
        "params": "",
        "when_suspect": "",
        "cooldown": "5m",
        "rate_limit": "5",
        "rate_window": "1h",
        "breaker_threshold": "3",
        "approval_timeout": "1h",
        "queue": "default",
        "enabled": True,
    }


def seconds(value: float) -> str:
    """300.0 -> '5m': the largest whole unit, as the config file would say it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


def split(errors: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(per input, the rest): 'matchers.team' and 'when_suspect.top' go under their input."""
    by_input: dict[str, str] = {}
    rest: dict[str, str] = {}
    for key, message in errors.items():
        head = key.split(".", 1)[0].split("[", 1)[0]
        if head in FIELDS:
            shown = f"{key}: {message}" if key != head else message
            by_input[head] = f"{by_input[head]}; {shown}" if head in by_input else shown
        else:
            rest[key] = message
    return by_input, rest


__all__ = ["KINDS", "MODES", "SEVERITIES", "defaults", "payload", "posted", "split", "values"]
