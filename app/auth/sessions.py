"""Dashboard sessions kept in the database: sign-in creates one, sign-out and revocation end it.

The browser's cookie holds a random session id; the table holds its SHA-256, so reading
the table gives nobody a working cookie. Each request looks the id up joined with its
token, so a session ends for every copy of its cookie, in every worker, the moment its row
is deleted or its token revoked.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.orm import Session

from app.auth.models import ApiToken, DashboardSession
from app.auth.service import TOUCH_EVERY, Principal, Verified, first_row
from app.db import UTCDateTime

LIFETIME = timedelta(hours=12)

_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.name,
        ApiToken.role,
        (ApiToken.last_used_at >= bindparam("fresh_after", type_=UTCDateTime())).label("fresh"),
    )
    .join(DashboardSession, DashboardSession.token_id == ApiToken.id)
    .where(
        DashboardSession.id_hash == bindparam("id_hash"),
        DashboardSession.expires_at > bindparam("now", type_=UTCDateTime()),
        ApiToken.revoked_at.is_(None),
    )
)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(session: Session, *, token_id: int, now: datetime) -> str:
    """A new session for this token; returns the id the cookie carries (never stored)."""
    session_id = secrets.token_urlsafe(32)
    session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))  # sweep old ones
    session.add(
        DashboardSession(id_hash=_hash(session_id), token_id=token_id, created_at=now, expires_at=now + LIFETIME)
    )
    return session_id


def end(session: Session, *, session_id: str) -> bool:
    """Delete the session; False when it had already ended."""
    result = session.execute(delete(DashboardSession).where(DashboardSession.id_hash == _hash(session_id)))
    return bool(getattr(result, "rowcount", 0))


def lookup(engine: Engine, *, session_id: str, now: datetime) -> Verified | None:
    """The live, unrevoked token behind a session id, or None."""
    row = first_row(engine, _LOOKUP, {"id_hash": _hash(session_id), "now": now, "fresh_after": now - TOUCH_EVERY})
    return None if row is None else Verified(row[0], Principal(name=row[1], role=row[2]), stale=not row[3])
