"""The web dashboard: server-rendered pages under / for people (the API is for programs)."""

from flask import Flask

# Each views module adds its routes to the blueprint as it is imported.
from app.dashboard import (  # noqa: F401  # noqa: F401  # noqa: F401
    alerts_views,
    audit_views,
    auth_views,
    automation_views,
    detector_views,
    exports_views,
    incident_views,
    notifications_views,
    reports_views,
    run_views,
    silence_views,
)
from app.dashboard.blueprint import bp
from app.dashboard.session import SESSION_LIFETIME, secret_key
from config.schema import Config

__all__ = ["bp", "register", "secret_key"]


def register(app: Flask, config: Config) -> None:
    """Cookie settings and the blueprint with every view; app.secret_key is set by the caller."""
    app.config.update(
        SESSION_COOKIE_NAME="vigil_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.register_blueprint(bp)
