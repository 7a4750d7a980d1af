"""API tokens: create (shown once), look up by hash, revoke. Roles viewer < operator < admin."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.models import ApiToken
from app.db import get_or_404, utcnow
from app.errors import ConflictError

ROLES = ("viewer", "operator", "admin")
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS = Principal(name="anonymous", role="viewer")
SYSTEM = "system"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_secret(header: str) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header; None for any other header."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def new_secret() -> str:
    return "vgl_" + secrets.token_urlsafe(32)


def create(session: Session, *, name: str, role: str, by: str, secret: str | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never retrievable again."""
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise ConflictError(f"a token named {name!r} already exists")
    secret = secret or new_secret()
    row = ApiToken(name=name, role=role, token_hash=hash_token(secret), prefix=secret[:8], created_by=by)
    session.add(row)
    session.flush()
    audit.record(session, actor=by, action="token.create", target=f"token:{name}", details={"role": role})
    return row, secret


def authenticate(session: Session, secret: str) -> tuple[Principal, bool] | None:
    """The principal for a bearer secret and whether its last use needs recording,
    or None when the secret is unknown or revoked."""
    digest = hash_token(secret)
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest))
    # The lookup is by hash, so timing reveals nothing about the secret; compare anyway.
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.token_hash, digest):
        return None
    stale = row.last_used_at is None or utcnow() - row.last_used_at > _TOUCH_EVERY
    return Principal(name=row.name, role=row.role), stale


class RecentTokens:
    """Bearer tokens this process authenticated in the last ttl_s seconds, by database and hash.

    The API checks here before querying the token table, which was a fifth of the cost of a
    small GET. The price: a token revoked by another process (another Gunicorn worker, another
    host) still works here for up to ttl_s; revoke() in this process forgets every entry at once.
    Only successes are kept, so failed attempts still reach the rate limiter.
    """

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 1024) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, database: str, digest: str) -> Principal | None:
        entry = self._entries.get((database, digest))
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]

    def put(self, database: str, digest: str, principal: Principal) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # simpler than LRU; a burst of distinct tokens just re-queries
            self._entries[(database, digest)] = (time.monotonic() + self.ttl_s, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


RECENT = RecentTokens()


def touch(session: Session, name: str) -> None:
    """Record last use (callers do so at most once a minute, so reads rarely write)."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is not None:
        row.last_used_at = utcnow()


def revoke(session: Session, *, token_id: int, by: str) -> ApiToken:
    row = get_or_404(session, ApiToken, token_id, "token")
    if row.revoked_at is None:
        RECENT.clear()
        row.revoked_at = utcnow()
        audit.record(session, actor=by, action="token.revoke", target=f"token:{row.name}")
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def ensure_bootstrap(session: Session, *, secret: str | None) -> str | None:
    """Make sure an admin can log in on first start.

    With VIGIL_ADMIN_TOKEN set, that secret is registered (once) as token 'admin'.
    Otherwise, if no token exists yet, one is generated and returned to be printed once.
    Several instances starting together may race here: the loser finds the winner's token.
    """
    try:
        with session.begin_nested():
            return _bootstrap(session, secret)
    except (IntegrityError, ConflictError):  # the other one committed between our check and insert
        return None


def _bootstrap(session: Session, secret: str | None) -> str | None:
    if secret:
        if session.scalar(select(ApiToken.id).where(ApiToken.token_hash == hash_token(secret))) is None:
            name = "admin" if session.scalar(select(ApiToken.id).where(ApiToken.name == "admin")) is None \
                else f"admin-{secrets.token_hex(3)}"
            create(session, name=name, role="admin", by=SYSTEM, secret=secret)
        return None
    if session.scalar(select(ApiToken.id).limit(1)) is not None:
        return None
    _row, generated = create(session, name="admin", role="admin", by=SYSTEM)
    return generated
