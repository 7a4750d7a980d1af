"""Dashboard sign-in: a signed cookie naming a server-side session, CSRF tokens, role checks.

The cookie holds a random session id and the CSRF token (never the API token or its hash).
Every request looks the session up joined with its token (app.auth.sessions), so signing
out, or revoking the token, ends the session for every copy of the cookie at once.
"""

from __future__ import annotations

import hmac
import secrets
import string
from functools import wraps
from typing import Any, Callable, TypeVar

from flask import abort, g, session

from app.auth import service as auth
from app.auth import sessions
from app.auth.keys import secret_key
from app.auth.service import Principal, Verified
from app.db import utcnow
from app.events import Event, publish
from app.web import db

__all__ = [
    "secret_key",
    "safe_next",
    "sign_in",
    "sign_out",
    "current_user",
    "csrf_token",
    "check_csrf",
    "require",
    "actor",
    "SESSION_LIFETIME",
]

F = TypeVar("F", bound=Callable[..., Any])
SESSION_LIFETIME = sessions.LIFETIME
# What a same-site path may hold: visible ASCII without backslash. Browsers drop tabs and
# newlines from URLs and read "\" as "/", so "/\t/evil.example" would leave the site.
_PATH_CHARS = frozenset(string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/?%#[]")


def safe_next(target: str, fallback: str) -> str:
    """`target` when it is a path on this site ("/alerts?state=firing"), else `fallback`.

    Anything else is refused rather than repaired: "//host", "/\\host", "https://host",
    and any control character, space, backslash or non-ASCII letter anywhere.
    """
    if len(target) > 2000 or not target.startswith("/") or target[1:2] == "/" or not set(target) <= _PATH_CHARS:
        return fallback
    return target


def sign_in(verified: Verified, *, client: str) -> None:
    """Record a new session (and its audit record) and hand its id to this browser, with a
    fresh CSRF token against session fixation."""
    name = verified.principal.name
    with db().write() as s:
        session_id = sessions.start(s, token_id=verified.token_id, now=utcnow())
        if verified.stale:
            auth.touch(s, name)
        publish(
            s, [Event("dashboard.sign_in", utcnow(), actor=name, target=f"token:{name}", details={"client": client})]
        )
    session.clear()
    session.permanent = True
    session["sid"] = session_id
    session["csrf"] = secrets.token_urlsafe(32)


def sign_out(*, client: str) -> None:
    """End this browser's session for every copy of its cookie (audited when one was live)."""
    user, session_id = current_user(), session.get("sid")
    if user is not None and isinstance(session_id, str):
        with db().write() as s:
            if sessions.end(s, session_id=session_id):
                publish(
                    s,
                    [
                        Event(
                            "dashboard.sign_out",
                            utcnow(),
                            actor=user.name,
                            target=f"token:{user.name}",
                            details={"client": client},
                        )
                    ],
                )
    session.clear()


def current_user() -> Principal | None:
    """The signed-in principal, re-checked against the session and token tables (cached per request)."""
    if "dashboard_user" not in g:
        g.dashboard_user = _lookup()
    user: Principal | None = g.dashboard_user
    return user


def _lookup() -> Principal | None:
    session_id = session.get("sid")
    if not isinstance(session_id, str):
        return None
    found = sessions.lookup(db().engine, session_id=session_id, now=utcnow())
    if found is None:
        session.clear()
        return None
    if found.stale:
        with db().write() as s:
            auth.touch(s, found.principal.name)
    return found.principal


def csrf_token() -> str:
    """This session's CSRF token, made on first use (the login form needs one too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf(submitted: str | None) -> None:
    """Abort with a 400 unless `submitted` is this session's CSRF token (the form came from our page)."""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not submitted or not hmac.compare_digest(expected, submitted):
        abort(
            400, "This form expired or did not come from this page (CSRF check failed). Reload the page and try again."
        )


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
