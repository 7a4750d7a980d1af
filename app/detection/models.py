"""Detector tables: each detector's last run, the run slots claimed, the scheduler lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class DetectorStatus(Base):
    """The last run of each detector, for the API and dashboard."""

    __tablename__ = "detector_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    series: Mapped[int] = mapped_column(Integer, default=0)
    runs_total: Mapped[int] = mapped_column(Integer, default=0)
    errors_total: Mapped[int] = mapped_column(Integer, default=0)
    run_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The first run of the current streak of failed / empty runs (None: the last run was not).
    error_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    no_data_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DetectorSlot(Base):
    """A claimed run slot: the unique key makes a slot run at most once across schedulers."""

    __tablename__ = "detector_slots"
    __table_args__ = (UniqueConstraint("detector", "slot", name="uq_detector_slots_detector_slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    detector: Mapped[str] = mapped_column(String(64))
    slot: Mapped[int] = mapped_column(Integer)
    holder: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SchedulerLease(Base):
    """Who may run detector jobs now; renewed by the holder, taken over once expired."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
