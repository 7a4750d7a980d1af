"""Inbound alerts: store first (answer the sender fast), process after, exactly once."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.alerts import service as alerts
from app.ingest.models import InboxItem
from app.reactions import react
from config.schema import Config


def store(connection: Connection, items: Sequence[dict[str, Any]], *, now: datetime) -> int:
    """Insert the batch; duplicates of stored items are skipped. Returns how many were new."""
    if not items:
        return 0
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    rows = [{"dedup_key": i["dedup_key"], "source": i["source"], "received_at": now, "item": i} for i in items]
    # One statement with the rows as parameters (SQLAlchemy sends them as a multi-row INSERT):
    # it compiles once per process, where .values(rows) compiled anew on every request.
    stmt = insert(cast(Table, InboxItem.__table__)).on_conflict_do_nothing(index_elements=["dedup_key"])
    # rowcount is not reliable for multi-row inserts on every driver; RETURNING is.
    return len(connection.execute(stmt.returning(InboxItem.id), rows).all())


def process(session: Session, config: Config, *, now: datetime, limit: int = 500) -> tuple[int, int]:
    """Apply stored items to the alert lifecycle in arrival order.

    Returns:
        (items processed, executions queued to run now).
    """
    items = session.scalars(select(InboxItem).where(InboxItem.processed_at.is_(None))
                            .order_by(InboxItem.id).limit(limit)).all()
    queued = 0
    for row in items:
        transitions = alerts.apply_external(session, row.item, now=now)
        queued += react(session, transitions, now=now, config=config)
        row.processed_at = now
    return len(items), queued
