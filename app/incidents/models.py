"""The incidents table: alerts of one group folded together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, iso

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
STATES = ("open", "resolved")


class Incident(Base):
    """Alerts of one group (detector, or configured labels) that fired close together.

    Kept incrementally by app.incidents.service as member alerts fire and resolve, so the
    list reads one row per incident instead of grouping alerts per request.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_group_key_id", "group_key", "id"),  # the group's latest incident
        Index("ix_incidents_state_id", "state", "id"),
        Index("ix_incidents_severity_id", "severity", "id"),
        Index("ix_incidents_detector_id", "detector", "id"),
        Index("ix_incidents_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str] = mapped_column(String(200))  # the first member's
    group_labels: Mapped[dict[str, str]] = mapped_column(JSON)  # the group_by values it folds on
    severity: Mapped[str] = mapped_column(String(16))  # the highest of its members'
    state: Mapped[str] = mapped_column(String(16))  # open while a member is open, else resolved
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)  # members: a flapping alert counts each fire
    open_count: Mapped[int] = mapped_column(Integer, default=0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "detector": self.detector,
            "group_labels": self.group_labels,
            "severity": self.severity,
            "state": self.state,
            "started_at": iso(self.started_at),
            "updated_at": iso(self.updated_at),
            "resolved_at": iso(self.resolved_at),
            "alert_count": self.alert_count,
            "open_count": self.open_count,
        }
