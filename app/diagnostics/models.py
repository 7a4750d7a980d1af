"""The diagnoses table: one row per diagnosed alert, with its ranked suspects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, iso

STATES = ("queued", "running", "done", "failed")


class Diagnosis(Base):
    """The latest diagnosis of one alert: queued -> running -> done | failed."""

    __tablename__ = "diagnoses"
    __table_args__ = (Index("ix_diagnoses_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(
        UTCDateTime
    )  # the window [start - lookback, start + after] is complete
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)  # see service.REMOTE
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # handed to RQ
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # RQ hand-overs so far
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    signals: Mapped[int] = mapped_column(Integer, default=0)
    analysed: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    fetch_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    analyse_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    def as_dict(self) -> dict[str, Any]:
        result = self.result or {}
        return {
            "alert_id": self.alert_id,
            "state": self.state,
            "requested_at": iso(self.requested_at),
            "requested_by": self.requested_by,
            "not_before": iso(self.not_before),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "error": self.error,
            "runner": self.claimed_by,
            "signals": self.signals,
            "analysed": self.analysed,
            "changed": self.changed,
            "fetch_s": self.fetch_s,
            "analyse_s": self.analyse_s,
            "window": result.get("window"),
            "suspects": result.get("suspects", []),
        }
