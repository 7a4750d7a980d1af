"""Vigil's Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from app.db import Database, sqlite_url
from app.web import BodyJSONProvider, JSONRequest
from config.schema import Config

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


class BoundedIntConverter(IntegerConverter):
    """<int:id> beyond the id range is simply not found (PostgreSQL would refuse the query)."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def database_for(config: Config, *, pool_size: int = 5) -> Database:
    """The database the config names (SQLite under data_dir without a database_url), with the audit
    log set up for it: every process opens its database here."""
    from app.audit import service as audit

    url = config.settings.database_url
    database = Database(url.get_secret_value() if url else sqlite_url(config.settings.data_dir), pool_size=pool_size)
    audit.configure(database.url, config.settings)  # every process that writes audit records comes through here
    return database


def create_app(config: Config | None = None, environ: Mapping[str, str] | None = None) -> Flask:
    """Build the web app. Schema migrations are the caller's job (the CLI runs them before forking)."""
    if config is None:
        from config import loader

        config = loader.load(None, environ if environ is not None else os.environ)
    from app import api, dashboard, logs, metrics
    from app.alerts import list_cache
    from app.auth.proxies import TrustedProxies

    app = Flask(__name__)
    app.request_class = JSONRequest
    app.json = BodyJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntConverter
    app.config["MAX_CONTENT_LENGTH"] = config.settings.max_body_bytes
    app.config["RESTX_MASK_SWAGGER"] = False
    app.config["RESTX_ERROR_404_HELP"] = False
    app.config["BUNDLE_ERRORS"] = True
    app.extensions["vigil.config"] = config
    app.extensions["vigil.db"] = database = database_for(config)
    logs.instrument(app)
    metrics.register(app)
    api.create_api(app)
    app.secret_key = dashboard.secret_key(config.settings)  # signs the dashboard's session cookie
    dashboard.register(app, config)
    if database.file and config.settings.alert_list_cache_mb:
        app.wsgi_app = list_cache.ListCache(  # type: ignore[method-assign]
            app.wsgi_app,
            database,
            mask_header=app.config["RESTX_MASK_HEADER"],
            max_bytes=config.settings.alert_list_cache_mb << 20,
        )
    if config.settings.trusted_proxies:  # outermost, so the list cache and the brake see the client
        app.wsgi_app = TrustedProxies(app.wsgi_app, config.settings.trusted_proxies)  # type: ignore[method-assign]
    return app
