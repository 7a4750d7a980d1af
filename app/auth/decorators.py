"""Bearer-token checks for API resources."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

import flask_restx as restx
from flask import g, request
from flask_restx import abort
from werkzeug.exceptions import TooManyRequests

from app.auth import ratelimit, service
from app.auth.service import ANONYMOUS, Principal
from app.web import cfg, db

F = TypeVar("F", bound=Callable[..., Any])


def current_principal() -> Principal | None:
    """The caller, from the Authorization header (cached on the request)."""
    if "principal" not in g:
        g.principal = _from_header()
    principal: Principal | None = g.principal
    return principal


def check(role: str) -> Principal:
    """The caller if it holds `role`; otherwise abort with 401 (no or bad token) or 403."""
    principal = current_principal()
    if principal is None and role == "viewer" and request.method == "GET" and cfg().settings.anonymous_read:
        principal = g.principal = ANONYMOUS
    if principal is None:
        abort(401, "a valid API token is required (Authorization: Bearer <token>)")
    assert principal is not None  # abort() raised otherwise
    if not principal.has(role):
        abort(403, f"this needs the {role} role; token {principal.name!r} has {principal.role}")
    return principal


def require(role: str) -> Callable[[F], F]:
    """Mark a resource method as needing `role`; Resource checks it before reading the body."""

    def wrap(fn: F) -> F:
        @wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            check(role)
            return fn(*args, **kwargs)

        inner.__apidoc__ = {**getattr(fn, "__apidoc__", {}), "security": "bearer"}  # type: ignore[attr-defined]
        inner.vigil_role = role  # type: ignore[attr-defined]
        return inner  # type: ignore[return-value]

    return wrap


class Resource(restx.Resource):
    """Checks the caller's role before validating the body, so a stranger gets 401, not a schema."""

    def validate_payload(self, func: Callable[..., Any]) -> None:
        role = getattr(func, "vigil_role", None)
        if role:
            check(role)
        super().validate_payload(func)


def actor() -> str:
    """The name recorded in audit records for the current caller."""
    principal = current_principal()
    return principal.name if principal else "anonymous"


def _from_header() -> Principal | None:
    secret = service.bearer_secret(request.headers.get("Authorization", ""))
    if secret is None:
        return None
    database = db()
    # The token first: a valid one always gets in, whoever else failed from this address.
    found = service.verify(database.engine, secret)
    if found is None:
        client = request.remote_addr or "unknown"
        wait_s = ratelimit.record_failure(client)
        if wait_s:
            raise TooManyRequests(
                f"too many failed authentications from {client}; retry in {wait_s:.0f}s", retry_after=int(wait_s) + 1
            )
        return None
    if found.stale:
        with database.write() as session:
            service.touch(session, found.principal.name)
    return found.principal
