"""The dashboard blueprint: sign-in guard, CSRF check, security headers, friendly errors.

Views live in the *_views modules, which add their routes to `bp`; the package's register()
imports them before the app registers the blueprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.automation import isolation as automation_isolation
from app.automation.models import AutomationState
from app.dashboard import display
from app.dashboard.session import actor, check_csrf, csrf_token, current_user, safe_next
from app.db import utcnow
from app.errors import NotFoundError, ServiceError
from app.web import cfg, db

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")
PUBLIC_ENDPOINTS = ("dashboard.login", "dashboard.static")
# Only Vigil's own files: no inline script or style, nothing from another origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

for _name, _fn in display.FILTERS.items():
    bp.add_app_template_filter(_fn, _name)


@bp.before_request
def _guard() -> Any:
    if request.method == "POST":
        check_csrf(request.form.get("csrf_token"))
    if request.endpoint in PUBLIC_ENDPOINTS or current_user() is not None:
        return None
    if request.endpoint and request.endpoint.endswith("_json"):
        return jsonify({"message": "sign in to the dashboard first"}), 401
    if request.method == "POST" and request.endpoint != "dashboard.logout":  # e.g. from a copied cookie
        return _error_page(401, "Signed out", "Your session has ended. Sign in again.")
    return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))


@bp.after_app_request
def _security_headers(response: Response) -> Response:
    # The API keeps its own headers (its Swagger UI needs inline script); everything
    # else on this origin is the dashboard's.
    if request.path.startswith("/api/"):
        return response
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    if request.blueprint == "dashboard" and request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _page_globals() -> dict[str, Any]:
    user = current_user()
    return {
        "user": user,
        "can_act": bool(user and user.has("operator")),
        "csrf_token": csrf_token,
        "automation": automation_state() if user else None,
        "now": utcnow(),
        "isolation": automation_isolation.status(cfg()) if user else None,
        "alert_duration": display.alert_duration,
    }


def automation_state() -> AutomationState | None:
    """The pause switch, read once per request (a missing row means never paused)."""
    if "automation_state" not in g:
        with db().read() as s:
            g.automation_state = s.get(AutomationState, 1)
    state: AutomationState | None = g.automation_state
    return state


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Any:
    return _error_page(e.code or 500, e.name, e.description or "")


@bp.errorhandler(ServiceError)
def _service_error(e: ServiceError) -> Any:
    return _error_page(e.status, "Not Found" if e.status == 404 else "Cannot do that", e.message)


def _error_page(status: int, title: str, message: str) -> Any:
    if request.endpoint and request.endpoint.endswith("_json"):
        return jsonify({"message": message}), status
    return render_template("dashboard/error.html", status=status, title=title, message=message), status


def perform(action: Callable[[Session, str, datetime], Any], success: str, fallback: str) -> Response:
    """Run one service call in one write transaction as the signed-in person, then go back.

    A conflict (already approved, already resolved...) is shown as a message on the page
    the person came from; an unknown id is a 404 page.
    """
    try:
        with db().write() as s:
            action(s, actor(), utcnow())
        flash(success, "ok")
    except NotFoundError:
        raise
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(back(fallback))


def back(fallback: str) -> str:
    """The form's `next` when it is a path on this site, else `fallback` (no open redirect)."""
    return safe_next(request.values.get("next", ""), fallback)


def object_id(value: str, what: str) -> int:
    """An id from the URL; anything else is a friendly 404 rather than a routing error."""
    if not value.isdigit() or not 0 < int(value) < 2**62:
        raise NotFoundError(f"{what} {value[:40]!r} not found")
    return int(value)
