"""The scheduler lease: one row that says which process may run detector jobs.

The holder renews it; anyone may take it once it has expired. Every change is a single
conditional UPDATE (or INSERT for the very first holder), so two processes racing for
the lease cannot both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.detection.models import SchedulerLease

NAME = "scheduler"


def acquire(session: Session, *, holder: str, now: datetime, ttl_s: float) -> bool:
    """Take or renew the lease; True when `holder` holds it afterwards."""
    expires = now + timedelta(seconds=ttl_s)
    renewed = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.holder == holder)
        .values(expires_at=expires)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        return True
    taken = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.expires_at < now)
        .values(holder=holder, acquired_at=now, expires_at=expires)
    )
    if taken.rowcount:  # type: ignore[attr-defined]
        return True
    if session.get(SchedulerLease, NAME) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=NAME, holder=holder, acquired_at=now, expires_at=expires))
    except IntegrityError:  # someone else inserted it first
        return False
    return True


def holds(session: Session, *, holder: str, now: datetime) -> bool:
    """Whether `holder` holds the lease at `now` (and it has not expired)."""
    row = session.scalar(select(SchedulerLease).where(SchedulerLease.name == NAME))
    return row is not None and row.holder == holder and row.expires_at > now


def release(session: Session, *, holder: str) -> None:
    """Give up the lease at once if `holder` has it, so another scheduler can take it without waiting
    for it to expire; a no-op for anyone else."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.holder == holder)
        .values(expires_at=datetime(1970, 1, 1, tzinfo=timezone.utc))
    )


def current(session: Session) -> SchedulerLease | None:
    """The lease row, whoever holds it and whether or not it has expired; None before any scheduler ran."""
    return session.get(SchedulerLease, NAME)
