"""Inbound webhook payloads (Alertmanager v4, Grafana unified alerting, Vigil's generic shape),
validated whole and normalised to one plain item per alert."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from config.schema import IngestSettings
from config.vocabulary import SEVERITIES
from detectors import lifecycle

_SEVERITY_ALIASES = {
    "page": "critical",
    "error": "critical",
    "high": "critical",
    "major": "critical",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "low": "info",
    "none": "info",
}


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # year 1 at +05:00, year 9999 at -05:00: no such UTC time
        raise ValueError("out of range once converted to UTC") from None


UTCTime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
MAX_NAME_CHARS = 200  # an alert's name is stored in a 200-character column


class _Loose(BaseModel):
    # Senders add fields over time; we ignore what we do not use, but type what we do.
    model_config = ConfigDict(extra="ignore")


class PromAlert(_Loose):
    """One alert of an Alertmanager or Grafana webhook (fields they add later are ignored)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: UTCTime
    endsAt: UTCTime | None = None
    generatorURL: str = ""
    fingerprint: str = ""
    valueString: str = ""
    dashboardURL: str = ""  # Grafana only, as are the two below
    panelURL: str = ""

    @field_validator("labels")
    @classmethod
    def _alertname(cls, labels: dict[str, str]) -> dict[str, str]:
        if len(labels.get("alertname", "")) > MAX_NAME_CHARS:
            raise ValueError(f"alertname must be at most {MAX_NAME_CHARS} characters (it names the alert)")
        return labels


class PromPayload(_Loose):
    """Alertmanager's webhook (version 4); Grafana's unified alerting webhook has the same core."""

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: str = ""
    alerts: list[PromAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    """One alert of the generic webhook; unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    severity: Literal["info", "warning", "critical"] = "warning"
    summary: str = Field("", max_length=4000)
    value: float | None = Field(None, allow_inf_nan=False)  # NaN would make the alert list invalid JSON
    starts_at: UTCTime | None = None
    fingerprint: str = Field("", max_length=200)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = [k for k in labels if not k or len(k) > 100]
        if bad:
            raise ValueError(f"label names must be 1-100 characters, got {bad[0]!r}")
        return labels


class GenericPayload(BaseModel):
    """The generic webhook's body: {"alerts": [...]}, at least one."""

    model_config = ConfigDict(extra="forbid")

    alerts: list[GenericAlert] = Field(min_length=1)


def over_limits(items: list[dict[str, Any]], limits: IngestSettings) -> dict[str, str]:
    """The IngestSettings bounds each alert breaks, as {"alerts[i].labels": reason}; empty if none."""
    errors = {}
    for i, item in enumerate(items):
        reason = _labels_over(item["labels"], limits) or _annotations_over(item, limits)
        if reason:
            errors[f"alerts[{i}].{reason[0]}"] = reason[1]
    return errors


def _labels_over(labels: Mapping[str, str], limits: IngestSettings) -> tuple[str, str] | None:
    if len(labels) > limits.max_labels:
        return "labels", f"at most {limits.max_labels} labels per alert, got {len(labels)}"
    for name, value in labels.items():
        if _size(name) > limits.max_label_name_bytes:
            return "labels", f"label names are at most {limits.max_label_name_bytes} bytes, got {_size(name)}"
        if _size(value) > limits.max_label_value_bytes:
            return f"labels.{name}", f"at most {limits.max_label_value_bytes} bytes, got {_size(value)}"
    return None


def _annotations_over(item: Mapping[str, Any], limits: IngestSettings) -> tuple[str, str] | None:
    annotations = item.get("annotations") or {}
    urls = sum(_size(item.get(k) or "") for k in ("generator_url", "dashboard_url", "panel_url"))
    size = sum(_size(k) + _size(v) for k, v in annotations.items()) + urls
    if size > limits.max_annotation_bytes:
        return "annotations", (
            f"annotations and links are at most {limits.max_annotation_bytes} bytes together, got {size}"
        )
    return None


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def severity_of(labels: dict[str, str]) -> str:
    """Vigil's severity from a `severity` label: info, warning or critical, common aliases mapped
    (page -> critical, low -> info), anything else or none warning."""
    value = labels.get("severity", "warning").lower()
    return value if value in SEVERITIES else _SEVERITY_ALIASES.get(value, "warning")


def from_prom(source: str, payload: PromPayload) -> list[dict[str, Any]]:
    """Each alert of an Alertmanager or Grafana payload as an inbox item of `source`."""
    items = []
    for a in payload.alerts:
        name = a.labels.get("alertname", "unnamed")
        items.append(
            _item(
                source,
                name=name,
                status=a.status,
                labels=a.labels,
                severity=severity_of(a.labels),
                summary=a.annotations.get("summary") or a.annotations.get("description", ""),
                starts_at=a.startsAt,
                value=_number(a.valueString),
                extra={
                    "annotations": a.annotations,
                    "generator_url": a.generatorURL,
                    "dashboard_url": a.dashboardURL,
                    "panel_url": a.panelURL,
                    "upstream_fingerprint": a.fingerprint,
                    "ends_at": a.endsAt.isoformat() if a.endsAt else None,
                },
            )
        )
    return items


def from_generic(payload: GenericPayload, now: datetime) -> list[dict[str, Any]]:
    """Each alert of a generic payload as an inbox item; one without starts_at started `now`."""
    return [
        _item(
            "generic",
            name=a.name,
            status=a.status,
            labels=a.labels,
            severity=a.severity,
            summary=a.summary,
            starts_at=a.starts_at or now,
            value=a.value,
            extra={"upstream_fingerprint": a.fingerprint},
        )
        for a in payload.alerts
    ]


def _item(
    source: str,
    *,
    name: str,
    status: str,
    labels: dict[str, str],
    severity: str,
    summary: str,
    starts_at: datetime,
    value: float | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    fingerprint = lifecycle.fingerprint(f"{source}:{name}", labels)
    starts = starts_at.astimezone(timezone.utc).isoformat()
    dedup = hashlib.sha256(f"{source}|{fingerprint}|{status}|{starts}".encode()).hexdigest()
    return {
        "source": source,
        "name": name,
        "status": status,
        "labels": labels,
        "severity": severity,
        "summary": summary,
        "starts_at": starts,
        "value": value,
        "fingerprint": fingerprint,
        "dedup_key": dedup,
        **extra,
    }


def _number(text: str) -> float | None:
    # Grafana's valueString looks like "[ var='A' labels={} value=3.2 ]"; take the last value=.
    marker = text.rfind("value=")
    if marker < 0:
        return None
    token = text[marker + 6 :].split()[0].rstrip("],")
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # "value=NaN" is no number to store
