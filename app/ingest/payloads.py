"""Inbound webhook payloads (Alertmanager v4, Grafana unified alerting, Vigil's generic shape),
validated whole and normalised to one plain item per alert."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from detectors import lifecycle

SEVERITIES = ("info", "warning", "critical")
_SEVERITY_ALIASES = {"page": "critical", "error": "critical", "high": "critical", "major": "critical",
                     "warn": "warning", "medium": "warning", "minor": "warning", "low": "info", "none": "info"}


class _Loose(BaseModel):
    # Senders add fields over time; we ignore what we do not use, but type what we do.
    model_config = ConfigDict(extra="ignore")


class PromAlert(_Loose):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: AwareDatetime
    endsAt: AwareDatetime | None = None
    generatorURL: str = ""
    fingerprint: str = ""
    valueString: str = ""


class PromPayload(_Loose):
    """Alertmanager's webhook (version 4); Grafana's unified alerting webhook has the same core."""

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[PromAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Literal["info", "warning", "critical"] = "warning"
    summary: str = Field("", max_length=4000)
    value: float | None = None
    starts_at: AwareDatetime | None = None
    fingerprint: str = Field("", max_length=200)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = [k for k in labels if not k or len(k) > 100]
        if bad:
            raise ValueError(f"label names must be 1-100 characters, got {bad[0]!r}")
        return labels


class GenericPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alerts: list[GenericAlert] = Field(min_length=1)


def severity_of(labels: dict[str, str]) -> str:
    value = labels.get("severity", "warning").lower()
    return value if value in SEVERITIES else _SEVERITY_ALIASES.get(value, "warning")


def from_prom(source: str, payload: PromPayload) -> list[dict[str, Any]]:
    items = []
    for a in payload.alerts:
        name = a.labels.get("alertname", "unnamed")
        items.append(_item(source, name=name, status=a.status, labels=a.labels, severity=severity_of(a.labels),
                           summary=a.annotations.get("summary") or a.annotations.get("description", ""),
                           starts_at=a.startsAt, value=_number(a.valueString),
                           extra={"annotations": a.annotations, "generator_url": a.generatorURL,
                                  "upstream_fingerprint": a.fingerprint,
                                  "ends_at": a.endsAt.isoformat() if a.endsAt else None}))
    return items


def from_generic(payload: GenericPayload, now: datetime) -> list[dict[str, Any]]:
    return [_item("generic", name=a.name, status=a.status, labels=a.labels, severity=a.severity, summary=a.summary,
                  starts_at=a.starts_at or now, value=a.value, extra={"upstream_fingerprint": a.fingerprint})
            for a in payload.alerts]


def _item(source: str, *, name: str, status: str, labels: dict[str, str], severity: str, summary: str,
          starts_at: datetime, value: float | None, extra: dict[str, Any]) -> dict[str, Any]:
    fingerprint = lifecycle.fingerprint(f"{source}:{name}", labels)
    starts = starts_at.astimezone(timezone.utc).isoformat()
    dedup = hashlib.sha256(f"{source}|{fingerprint}|{status}|{starts}".encode()).hexdigest()
    return {"source": source, "name": name, "status": status, "labels": labels, "severity": severity,
            "summary": summary, "starts_at": starts, "value": value, "fingerprint": fingerprint,
            "dedup_key": dedup, **extra}


def _number(text: str) -> float | None:
    # Grafana's valueString looks like "[ var='A' labels={} value=3.2 ]"; take the last value=.
    marker = text.rfind("value=")
    if marker < 0:
        return None
    token = text[marker + 6:].split()[0].rstrip("],")
    try:
        return float(token)
    except ValueError:
        return None
