from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class InboxItem(Base):
    """One alert notification received from outside, stored before the webhook is answered.

    dedup_key (source, fingerprint, status, startsAt) is unique, so a retried or duplicated
    delivery (Alertmanager HA pairs send everything twice) is stored once.
    """

    __tablename__ = "ingest_inbox"
    __table_args__ = (Index("ix_ingest_inbox_processed_at_id", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    item: Mapped[dict[str, Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
