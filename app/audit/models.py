from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class AuditRecord(Base):
    """Append-only; each row carries the hash of the previous row (tamper-evident chain)."""

    __tablename__ = "audit_records"
    __table_args__ = (
        Index("ix_audit_records_action_id", "action", "id"),
        Index("ix_audit_records_actor_id", "actor", "id"),
        Index("ix_audit_records_target_id", "target", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
