"""Sign in with an API token, sign out (both audited, in app.dashboard.session)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for

from app.auth import ratelimit
from app.auth import service as auth
from app.dashboard.blueprint import back, bp
from app.dashboard.session import current_user, sign_in, sign_out
from app.web import db

_MAX_TOKEN_CHARS = 200


@bp.get("/")
def index() -> Any:
    """The dashboard's home is the alerts page."""
    return redirect(url_for("dashboard.alerts"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """GET shows the form; POST checks the token and starts a session that never holds it."""
    if request.method == "GET":
        if current_user() is not None:
            return redirect(back(url_for("dashboard.alerts")))
        return render_template("dashboard/login.html", next=back(""))
    secret = request.form.get("token", "").strip()
    found = None
    if 0 < len(secret) <= _MAX_TOKEN_CHARS:  # the token first: a valid one always gets in
        found = auth.verify(db().engine, secret)
    client = request.remote_addr or "unknown"
    if found is None:
        wait_s = ratelimit.record_failure(client)  # the same per-client brake as the API's bearer check
        if wait_s:
            return (
                render_template(
                    "dashboard/login.html",
                    next=back(""),
                    error=f"Too many failed sign-ins; try again in {wait_s:.0f}s.",
                ),
                429,
                {"Retry-After": str(int(wait_s) + 1)},
            )
        return render_template(
            "dashboard/login.html", next=back(""), error="That token is unknown or has been revoked."
        ), 401
    sign_in(found, client=client)
    return redirect(back(url_for("dashboard.alerts")))


@bp.post("/logout")
def logout() -> Any:
    """End this browser's session and go to the sign-in page."""
    sign_out(client=request.remote_addr or "unknown")
    flash("Signed out.", "ok")
    return redirect(url_for("dashboard.login"))
