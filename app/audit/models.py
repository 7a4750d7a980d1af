"""The audit trail's tables: the hash-chained records and the chain's signed head."""

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


class AuditHead(Base):
    """The chain's head (a single row, id 1): how many records, the last one, and an HMAC over them.

    Written in the transaction of each record, under the chain's lock. Without the key nobody
    can sign a shorter head, so deleting the newest records is detected; a copy of the head
    also goes to a file outside the database (app.audit.anchor) against restoring an old row.
    Records up to keyed_from were chained with plain SHA-256 before the chain was keyed.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    keyed_from: Mapped[int] = mapped_column(Integer)
    mac: Mapped[str] = mapped_column(String(64))  # '' until the first keyed record signs it
