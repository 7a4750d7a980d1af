"""The ingest inbox: each alert the webhooks received, stored before answering, then applied by the scheduler."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class InboxItem(Base):
    """One alert notification received from outside, stored before the webhook is answered.

    dedup_key (source, fingerprint, status, startsAt) is unique, so a retried or duplicated
    delivery (Alertmanager HA pairs send everything twice) is stored once. An item that
    cannot be applied is quarantined: processed_at is set and error says why.
    """

    __tablename__ = "ingest_inbox"
    __table_args__ = (
        Index("ix_ingest_inbox_processed_at_id", "processed_at", "id"),
        # Failed items are rare among millions of processed ones: a partial index lists them.
        Index(
            "ix_ingest_inbox_failed",
            "id",
            sqlite_where=text("error IS NOT NULL"),
            postgresql_where=text("error IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
