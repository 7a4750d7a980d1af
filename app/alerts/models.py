"""Alert tables: alerts, their labels and timelines."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, event, text
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from app.db import Base, UTCDateTime, iso

OPEN_STATES = ("pending", "firing")


class Alert(Base):
    """One incident of one fingerprint (detector + labels), from pending to resolved."""

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per fingerprint, whatever races happen between processes.
        Index(
            "uq_alerts_open_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_alerts_state_id", "state", "id"),
        Index("ix_alerts_detector_id", "detector", "id"),
        Index("ix_alerts_severity_id", "severity", "id"),
        Index("ix_alerts_started_at", "started_at"),
        Index("ix_alerts_fired_at_id", "fired_at", "id"),  # rehearsals read firings in time order
        Index("ix_alerts_incident_id_id", "incident_id", "id"),  # an incident's members
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    detector: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(32), default="detector")
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The alert as the list answers it (JSON without "id"), kept on every write: the alerts
    # list then reads one text per row instead of decoding and re-encoding 17 columns.
    listed: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)  # only the list reads it
    # The incident this alert folded into once it fired (app.incidents); None before that.
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Lower-cased detector, labels, message and annotations, kept on every write: what free-text
    # search matches with LIKE (a trigram index serves it on PostgreSQL when pg_trgm is there).
    search_text: Mapped[str | None] = mapped_column(Text, nullable=True, deferred=True)

    def as_dict(self) -> dict[str, Any]:
        """The alert's fields as the API answers them (times ISO-8601 UTC with microseconds)."""
        return {name: _json_value(getattr(self, name)) for name in LISTED}


LISTED = (
    "id",
    "fingerprint",
    "detector",
    "source",
    "labels",
    "severity",
    "state",
    "kind",
    "message",
    "value",
    "threshold",
    "started_at",
    "fired_at",
    "resolved_at",
    "last_seen_at",
    "acked_at",
    "acked_by",
)
"""An alert's fields in lists and answers, in order; each is an alerts column."""


def _json_value(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else value


def listed_json(fields: Mapping[str, Any]) -> str:
    """An alert's list JSON from its field values, without "id" (not known before the insert;
    the list query puts it in front). Bulk loaders that bypass the ORM use it too."""
    return json.dumps(
        {name: _json_value(fields[name]) for name in LISTED[1:]}, ensure_ascii=False, separators=(",", ":")
    )


@event.listens_for(Alert, "before_insert")
@event.listens_for(Alert, "before_update")
def _keep_listed(_mapper: Mapper[Alert], _connection: Any, alert: Alert) -> None:
    alert.listed = listed_json({name: getattr(alert, name) for name in LISTED})
    alert.search_text = search_text(alert.detector, alert.labels, alert.message, alert.evidence)


MAX_SEARCH_CHARS = 20_000


def search_text(
    detector: str, labels: Mapping[str, str] | None, message: str | None, evidence: Mapping[str, Any] | None
) -> str:
    """What free-text search looks in, lower-cased (queries are lower-cased the same way)."""
    annotations = (evidence or {}).get("annotations") or {}
    parts = [
        detector,
        *(f"{k}={v}" for k, v in (labels or {}).items()),
        message or "",
        *(f"{k}={v}" for k, v in annotations.items() if isinstance(v, str)),
    ]
    return "\n".join(parts).lower()[:MAX_SEARCH_CHARS]


class AlertLabel(Base):
    """One label of an alert, so label matchers are index lookups rather than scans."""

    __tablename__ = "alert_labels"
    __table_args__ = (Index("ix_alert_labels_name_value_alert_id", "name", "value", "alert_id"),)

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AlertEvent(Base):
    """Every transition of an alert (pending, firing, resolved, acked, ...), append-only."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_id_id", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64), default="system")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
