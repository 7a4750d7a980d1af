"""Write and verify the hash-chained audit log; callers pass their own open session
so the record commits or rolls back with the change it describes."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.models import AuditRecord
from app.db import utcnow

GENESIS = "0" * 64
_SECRET_WORDS = ("secret", "token", "password", "authorization", "api_key", "apikey", "webhook", "credential")


def redact(details: Any) -> Any:
    """Mask values whose key suggests a secret, at any depth."""
    if isinstance(details, dict):
        return {
            k: "***" if any(w in str(k).lower() for w in _SECRET_WORDS) else redact(v) for k, v in details.items()
        }
    if isinstance(details, list):
        return [redact(v) for v in details]
    return details


def record(session: Session, *, actor: str, action: str, target: str, details: dict[str, Any] | None = None,
           at: datetime | None = None) -> AuditRecord:
    """Append one record, chained to the last one."""
    _lock_chain(session)
    prev = session.scalar(select(AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)) or GENESIS
    row = AuditRecord(at=at or utcnow(), actor=actor, action=action, target=target,
                      details=redact(details or {}), prev_hash=prev)
    row.hash = _digest(row)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> Verification:
    """Walk the chain in id order and report the first record whose link or hash is wrong."""
    prev, checked, after = GENESIS, 0, 0
    while True:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id).limit(batch)
        ).all()
        if not rows:
            return Verification(ok=True, checked=checked)
        for row in rows:
            if row.prev_hash != prev:
                return Verification(False, checked, row.id, "prev_hash does not match the previous record")
            if row.hash != _digest(row):
                return Verification(False, checked, row.id, "record content does not match its hash")
            prev, checked, after = row.hash, checked + 1, row.id


def _digest(row: AuditRecord) -> str:
    body = json.dumps(
        [row.prev_hash, row.at.isoformat(timespec="microseconds"), row.actor, row.action, row.target, row.details],
        sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    # SQLite serialises writers with BEGIN IMMEDIATE already; PostgreSQL needs a lock so
    # two transactions never chain onto the same previous record.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7426001)"))
