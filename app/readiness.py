"""Readiness that tells the truth: the database answers from a real table, takes writes, and
the scheduler's lease is being renewed.

`SELECT 1` answered ok while every read and write failed on a read-only SQLite file, and
/ready said 200 for minutes after the scheduler had been killed with 3,423 alerts waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import OperationalError

from app.db import Database, utcnow
from app.detection.lease import NAME
from app.detection.models import SchedulerLease
from config.schema import Config

log = logging.getLogger("vigil.ready")


@dataclass(frozen=True)
class LeaseState:
    """The scheduler lease as the readiness check reports it."""

    holder: str
    age_s: float  # since the holder last renewed it
    stale: bool  # not renewed within lease_ttl_s: nobody is running jobs or the inbox
    released: bool  # its holder stopped cleanly (lease.release) and nobody took it since


def lease_state(connection: Connection, *, now: datetime, ttl_s: float) -> LeaseState | None:
    """The scheduler lease as seen now; None before any scheduler ever took it."""
    row = connection.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at).where(SchedulerLease.name == NAME)
    ).first()
    if row is None:
        return None
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=now.tzinfo)
    renewed_at = expires_at.timestamp() - ttl_s
    return LeaseState(
        holder=row.holder,
        age_s=round(now.timestamp() - renewed_at, 3),
        stale=now >= expires_at,
        released=expires_at.timestamp() <= 0,
    )


def _writable(connection: Connection, database: Database) -> str | None:
    """None when a write could start now; else why not."""
    if not database.is_sqlite:
        read_only = connection.exec_driver_sql("SHOW transaction_read_only").scalar()
        return "the server is read-only (transaction_read_only is on)" if read_only == "on" else None
    # Begin a write and roll it back, without waiting for the lock: a lock held by another
    # writer proves writes work. BEGIN IMMEDIATE alone succeeds on a read-only file; a
    # statement that writes (though it matches no row) is refused there.
    busy_timeout_ms = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
    connection.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            connection.exec_driver_sql(f"DELETE FROM {SchedulerLease.__tablename__} WHERE name IS NULL")
        finally:
            connection.exec_driver_sql("ROLLBACK")
    except OperationalError as exc:
        if "locked" not in str(exc.orig):
            return f"writes fail: {exc.orig}"
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout={busy_timeout_ms}")
    return None


def check(database: Database, config: Config, *, now: datetime) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for GET /api/v1/ready."""
    scheduler = config.settings.scheduler
    try:
        with database.read_connection() as connection:
            lease = lease_state(connection, now=now, ttl_s=scheduler.lease_ttl_s)
            unwritable = _writable(connection, database)
    except Exception as exc:  # any driver error means "not ready"
        log.warning("readiness check failed", extra={"error": type(exc).__name__})
        return 503, {
            "status": "unavailable",
            "database": "unreachable",
            "scheduler": None,
            "reason": f"the database does not answer ({type(exc).__name__})",
        }
    body: dict[str, Any] = {"status": "ok", "database": "ok", "scheduler": None}
    if lease is not None:
        body["scheduler"] = {"holder": lease.holder, "lease_age_s": lease.age_s, "stale": lease.stale}
    if unwritable:
        body |= {"status": "unavailable", "database": "read-only", "reason": unwritable}
    elif lease is not None and lease.stale and scheduler.enabled:
        when = (
            "released it when it stopped"
            if lease.released
            else f"last renewed it {lease.age_s:.0f}s ago (lease_ttl_s {scheduler.lease_ttl_s:g})"
        )
        body |= {
            "status": "unavailable",
            "reason": f"no scheduler is running: {lease.holder} {when}; inbound "
            "alerts, detectors and notifications wait",
        }
    return (200 if body["status"] == "ok" else 503), body


def answer() -> tuple[dict[str, Any], int]:
    """The Ready resource's answer, for the app serving this request."""
    from app.web import cfg, db

    status, body = check(db(), cfg(), now=utcnow())
    return body, status
