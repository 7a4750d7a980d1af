"""API tokens: create (shown once), look up by hash, revoke. Roles viewer < operator < admin."""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from sqlalchemy import Dialect, Engine, bindparam, delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.auth.models import ApiToken, DashboardSession
from app.db import UTCDateTime, get_or_404, utcnow
from app.errors import ConflictError
from app.events import Event, publish

ROLES = ("viewer", "operator", "admin")
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who makes a request (a token's name, or anonymous) and their role."""

    name: str
    role: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS = Principal(name="anonymous", role="viewer")
SYSTEM = "system"


def hash_token(token: str) -> str:
    """The SHA-256 hex of a token's secret: all the database keeps of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_secret(header: str) -> str | None:
    """The secret of an `Authorization: Bearer <secret>` header; None for any other header."""
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    return secret if scheme.lower() == "bearer" and secret else None


def new_secret() -> str:
    """A new random token secret, `vgl_` and 43 URL-safe characters."""
    return "vgl_" + secrets.token_urlsafe(32)


def create(session: Session, *, name: str, role: str, by: str, secret: str | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the secret, which is never retrievable again."""
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise ConflictError(f"a token named {name!r} already exists")
    secret = secret or new_secret()
    row = ApiToken(name=name, role=role, token_hash=hash_token(secret), prefix=secret[:8], created_by=by)
    session.add(row)
    session.flush()
    publish(session, [Event("token.create", utcnow(), actor=by, target=f"token:{name}", details={"role": role})])
    return row, secret


class Verified(NamedTuple):
    """A live token (or dashboard session) found for a secret, and whether its last use needs recording."""

    token_id: int
    principal: Principal
    stale: bool  # its last use is older than a minute and needs recording


_LOOKUP = select(
    ApiToken.id,
    ApiToken.name,
    ApiToken.role,
    (ApiToken.last_used_at >= bindparam("fresh_after", type_=UTCDateTime())).label("fresh"),
).where(ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None))


def verify(engine: Engine, secret: str) -> Verified | None:
    """The live token behind a bearer secret, or None when it is unknown or revoked.

    Asked of the database on every request, never of a per-process cache: a token revoked
    through one worker (or host) is refused by every other one at once. One probe of a
    unique index, run as driver SQL on a pooled DBAPI connection (SQLAlchemy's per-statement
    machinery cost several times the query itself).
    """
    row = first_row(engine, _LOOKUP, {"digest": hash_token(secret), "fresh_after": utcnow() - TOUCH_EVERY})
    return None if row is None else Verified(row[0], Principal(name=row[1], role=row[2]), stale=not row[3])


def first_row(engine: Engine, statement: ClauseElement, values: dict[str, Any]) -> tuple[Any, ...] | None:
    """The first row of a small, hot read, compiled once per statement and dialect."""
    compiled, processors = _compiled(engine.dialect, statement)
    params = dict(compiled.construct_params(values))
    for name, process in processors.items():
        params[name] = process(params[name])
    bound = tuple(params[n] for n in compiled.positiontup or ()) if compiled.positional else params
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(compiled.string, bound)
            row = cursor.fetchone()
            cursor.close()
            return tuple(row) if row is not None else None
        finally:
            connection.close()  # back to the pool (which rolls back: nothing was written)
    except dbapi_error as exc:  # as SQLAlchemy would raise it, so "database away" still answers 503
        raise DBAPIError.instance(compiled.string, bound, exc, dbapi_error) from exc


@functools.lru_cache(maxsize=16)  # a few fixed statements per dialect
def _compiled(dialect: Dialect, statement: ClauseElement) -> tuple[SQLCompiler, dict[str, Any]]:
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)  # a SELECT compiles to one
    processors = {
        name: proc for name, bind in compiled.binds.items() if (proc := bind.type.bind_processor(dialect)) is not None
    }
    return compiled, processors


def touch(session: Session, name: str) -> None:
    """Record last use (callers do so at most once a minute, so reads rarely write)."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is not None:
        row.last_used_at = utcnow()


def revoke(session: Session, *, token_id: int, by: str) -> ApiToken:
    """Revoke the token and end its dashboard sessions (audited); revoking it again changes nothing.
    Raises NotFoundError for an unknown id."""
    row = get_or_404(session, ApiToken, token_id, "token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        # Its dashboard sessions end in this same transaction.
        session.execute(delete(DashboardSession).where(DashboardSession.token_id == row.id))
        publish(session, [Event("token.revoke", row.revoked_at, actor=by, target=f"token:{row.name}")])
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
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
            name = (
                "admin"
                if session.scalar(select(ApiToken.id).where(ApiToken.name == "admin")) is None
                else f"admin-{secrets.token_hex(3)}"
            )
            create(session, name=name, role="admin", by=SYSTEM, secret=secret)
        return None
    if session.scalar(select(ApiToken.id).limit(1)) is not None:
        return None
    _row, generated = create(session, name="admin", role="admin", by=SYSTEM)
    return generated
