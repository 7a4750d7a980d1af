"""Dashboard sign-in: a signed session cookie that names a token, CSRF tokens, role checks.

The cookie holds the token's name, role and SHA-256 (never the secret). Every request
looks the hash up again, so revoking a token ends its dashboard sessions at once.
"""
from __future__ import annotations

import hmac
import os
import secrets
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, Callable, TypeVar

from flask import abort, g, session
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import ApiToken
from app.auth.service import Principal
from app.db import utcnow
from app.web import db
from config.schema import Settings

F = TypeVar("F", bound=Callable[..., Any])
SESSION_LIFETIME = timedelta(hours=12)
_TOUCH_EVERY = timedelta(minutes=1)


def secret_key(settings: Settings) -> str:
    """settings.secret_key, else a random key made once in <data_dir>/secret_key (0600).

    Every Gunicorn worker builds its own app; reading one file gives them all the same
    key, so a cookie signed by one worker is accepted by the others.
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = Path(settings.data_dir).resolve() / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic and refuses to replace: the first worker wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def sign_in(principal: Principal, secret: str) -> None:
    """Start a fresh session (a new CSRF token too, against session fixation)."""
    session.clear()
    session.permanent = True
    session["user"] = {"name": principal.name, "role": principal.role, "hash": auth.hash_token(secret)}
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def current_user() -> Principal | None:
    """The signed-in principal, re-checked against the token table (cached per request)."""
    if "dashboard_user" not in g:
        g.dashboard_user = _lookup()
    user: Principal | None = g.dashboard_user
    return user


def _lookup() -> Principal | None:
    stored = session.get("user")
    if not isinstance(stored, dict) or not isinstance(stored.get("hash"), str):
        return None
    with db().read() as s:
        row = s.execute(select(ApiToken.name, ApiToken.role, ApiToken.revoked_at, ApiToken.last_used_at)
                        .where(ApiToken.token_hash == stored["hash"])).first()
    if row is None or row.revoked_at is not None:
        session.clear()
        return None
    if row.last_used_at is None or utcnow() - row.last_used_at > _TOUCH_EVERY:
        with db().write() as s:
            auth.touch(s, row.name)
    return Principal(name=row.name, role=row.role)


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the login form needs one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(submitted: str | None) -> None:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not submitted or not hmac.compare_digest(expected, submitted):
        abort(400, "This form expired or did not come from this page (CSRF check failed). "
                   "Reload the page and try again.")


def require(role: str) -> Callable[[F], F]:
    """Let the view run only for a signed-in principal holding `role` (else 403)."""

    def wrap(fn: F) -> F:
        @wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None or not user.has(role):
                have = user.role if user else "no role"
                abort(403, f"This needs the {role} role; you are signed in as {have}.")
            return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def actor() -> str:
    """The name audit records carry for the signed-in person's actions."""
    user = current_user()
    return user.name if user else "anonymous"
